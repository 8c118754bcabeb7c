#!/usr/bin/env node
// `npx simdeploy ...` from the repository: runs the built CLI.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const main = join(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!existsSync(main)) {
  process.stderr.write(`simdeploy: ${main} is missing: run \`npm run build\` in ${join(__dirname, '..')} first\n`);
  process.exit(2);
}
require(main);
