const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'cloud',
  rootDir: __dirname,
};
