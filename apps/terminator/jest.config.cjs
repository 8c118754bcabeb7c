const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'terminator',
  rootDir: __dirname,
};
