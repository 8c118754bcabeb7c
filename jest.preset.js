// Shared Jest settings. Each project's jest.config.cjs spreads this and sets
// its own displayName and rootDir.
const fs = require('node:fs');
const path = require('node:path');

const workspaceRoot = __dirname;

// Map every @simdeploy/* alias in tsconfig.base.json to its source file so
// tests run against sources, never against build output.
function aliasMapper() {
  const tsconfig = JSON.parse(
    fs.readFileSync(path.join(workspaceRoot, 'tsconfig.base.json'), 'utf8'),
  );
  const mapper = {};
  for (const [alias, targets] of Object.entries(tsconfig.compilerOptions.paths ?? {})) {
    // Other entries in paths only patch type resolution (see tsconfig.base.json).
    if (!alias.startsWith('@simdeploy/')) continue;
    const escaped = alias.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    mapper[`^${escaped}$`] = path.join(workspaceRoot, targets[0]);
  }
  return mapper;
}

// Several runtime dependencies (NestJS 12, jose, @kubernetes/client-node...)
// ship only ES modules. Jest runs test code as CommonJS, so these packages are
// transformed by SWC like our own sources. The list is read from node_modules
// (every package whose package.json says "type": "module") rather than kept by
// hand, so a new ESM-only dependency works without editing this file.
function esmPackageNames() {
  const names = new Set();
  const visit = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      if (entry.name.startsWith('@')) {
        for (const scoped of fs.readdirSync(path.join(dir, entry.name), { withFileTypes: true })) {
          if (scoped.isDirectory()) inspect(path.join(dir, entry.name, scoped.name), `${entry.name}/${scoped.name}`);
        }
      } else {
        inspect(path.join(dir, entry.name), entry.name);
      }
    }
  };
  const inspect = (pkgDir, name) => {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
      if (pkg.type === 'module') names.add(name);
    } catch {
      // not a package
    }
    visit(path.join(pkgDir, 'node_modules'));
  };
  visit(path.join(workspaceRoot, 'node_modules'));
  return [...names].sort();
}

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const esmPackages = esmPackageNames();

const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j|mj|cj)s$': ['@swc/jest', swcOptions],
  },
  transformIgnorePatterns: [
    `node_modules/(?!(${esmPackages.map(escapeRegex).join('|')})/)`,
  ],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  moduleNameMapper: aliasMapper(),
  testMatch: [
    '<rootDir>/src/**/*.(spec|test|int-spec).ts',
    '<rootDir>/test/**/*.(spec|test|int-spec|e2e-spec).ts',
  ],
  globalSetup: path.join(workspaceRoot, 'libs/testing/src/jest-global-setup.ts'),
  globalTeardown: path.join(workspaceRoot, 'libs/testing/src/jest-global-teardown.ts'),
  reporters: ['default', path.join(workspaceRoot, 'tools/jest-summary-reporter.cjs')],
  passWithNoTests: true,
  testTimeout: 30000,
  coverageDirectory: path.join(workspaceRoot, 'coverage'),
};
