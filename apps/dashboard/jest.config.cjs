const preset = require('../../jest.preset.js');

// Only the dashboard's pure logic runs here (parsers, schema, phases); the pages are tested
// in a real browser by e2e/test/dashboard.e2e-spec.ts.
module.exports = {
  ...preset,
  displayName: 'dashboard',
  rootDir: __dirname,
  globalSetup: undefined,
  globalTeardown: undefined,
};
