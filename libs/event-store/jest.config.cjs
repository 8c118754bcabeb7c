const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'event-store',
  rootDir: __dirname,
};
