// Runs a TypeScript bench script without a build step:
//   node bench/run.cjs bench/<area>/<script>.ts [args...]
const path = require('node:path');
require('../tools/register-ts.cjs');

const script = process.argv[2];
if (!script) {
  console.error('usage: node bench/run.cjs <script.ts> [args...]');
  process.exit(2);
}
process.argv.splice(1, 1);
require(path.resolve(script));
