const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'read-model',
  rootDir: __dirname,
};
