const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'messaging',
  rootDir: __dirname,
};
