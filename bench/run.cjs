// Runs a TypeScript bench script without a build step or extra packages:
//   node bench/run.cjs bench/<area>/<script>.ts [args...]
// Sources are compiled on load by @swc/core (already a dev dependency), and the
// @simdeploy/* aliases of tsconfig.base.json resolve to the libs' sources, as in Jest.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const root = path.resolve(__dirname, '..');
const { paths } = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.base.json'), 'utf8')).compilerOptions;
const aliases = new Map(
  Object.entries(paths)
    .filter(([alias]) => alias.startsWith('@simdeploy/'))
    .map(([alias, [target]]) => [alias, path.join(root, target)]),
);

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, aliases.get(request) ?? request, ...rest);
};

require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};

const script = process.argv[2];
if (!script) {
  console.error('usage: node bench/run.cjs <script.ts> [args...]');
  process.exit(2);
}
process.argv.splice(1, 1);
require(path.resolve(script));
