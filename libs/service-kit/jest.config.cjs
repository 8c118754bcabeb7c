const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'service-kit',
  rootDir: __dirname,
};
