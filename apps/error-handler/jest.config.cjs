const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'error-handler',
  rootDir: __dirname,
};
