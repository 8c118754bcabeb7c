import nx from '@nx/eslint-plugin';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

// Which project tags may depend on which. Production code may not use the
// type:testing lib; spec and test files may (see testFiles below).
const productionConstraints = [
  { sourceTag: 'type:domain', onlyDependOnLibsWithTags: [] },
  // The event store keeps events, it does not decide: domain types only (see the rule below).
  { sourceTag: 'type:store', onlyDependOnLibsWithTags: ['type:domain'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:domain', 'type:lib'] },
  { sourceTag: 'type:read', onlyDependOnLibsWithTags: ['type:domain', 'type:store', 'type:lib'] },
  { sourceTag: 'type:workflow', onlyDependOnLibsWithTags: ['type:domain', 'type:store', 'type:lib', 'type:read'] },
  // Audits re-read what the store holds and compare it with the read side; they decide nothing.
  { sourceTag: 'type:audit', onlyDependOnLibsWithTags: ['type:domain', 'type:store', 'type:lib', 'type:read'] },
  // The NestJS service kit is wiring for apps: no lib may depend on it.
  { sourceTag: 'type:kit', onlyDependOnLibsWithTags: ['type:domain', 'type:store', 'type:lib', 'type:read', 'type:workflow'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:store', 'type:lib', 'type:read', 'type:workflow', 'type:kit', 'type:audit'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:domain', 'type:store', 'type:lib', 'type:testing'] },
  // The packaging checks (k8s/) read the services' settings, topology and metrics from the libs.
  { sourceTag: 'type:deploy', onlyDependOnLibsWithTags: ['type:domain', 'type:lib'] },
  // The dashboard uses only the public HTTP API: no workspace code at all.
  { sourceTag: 'type:web', onlyDependOnLibsWithTags: [] },
  // End-to-end tests drive the real processes; they may use the libs' types and helpers, never an app's code.
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['type:domain', 'type:store', 'type:lib', 'type:read', 'type:workflow', 'type:testing', 'type:audit'] },
];

const withTesting = (constraints) =>
  constraints.map((c) =>
    c.sourceTag === 'type:testing'
      ? c
      : { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing'] },
  );

const boundaries = (depConstraints) => ({
  '@nx/enforce-module-boundaries': [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      depConstraints,
    },
  ],
});

const testFiles = ['**/*.spec.ts', '**/*.test.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', '**/test/**/*.ts'];

export default [
  {
    ignores: ['**/dist', '**/node_modules', '**/tmp', '**/coverage', '**/.nx'],
  },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    rules: {
      ...boundaries(productionConstraints),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Decorator metadata (validation, DI) needs property types written out even where inferable.
      '@typescript-eslint/no-inferrable-types': ['error', { ignoreProperties: true }],
    },
  },
  {
    files: testFiles,
    rules: {
      ...boundaries(withTesting(productionConstraints)),
      // Tests read JSON answers loosely; the assertions are what checks their shape.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // The domain is pure: no I/O, no framework. Only relative imports, or
    // type-only imports of anything else.
    files: ['libs/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\.{1,2}(/|$))',
              allowTypeImports: true,
              message: 'libs/domain is pure TypeScript: import other modules with `import type` only.',
            },
          ],
        },
      ],
    },
  },
  {
    // The event store carries events as data; what they mean is the domain's, decided elsewhere.
    files: ['libs/event-store/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@simdeploy/domain'],
              allowTypeImports: true,
              message: 'libs/event-store may import domain types only (`import type`): deciding and folding live in libs/workflows.',
            },
          ],
        },
      ],
    },
  },
  {
    // Domain specs may also use the shared test helpers.
    files: testFiles.map((glob) => `libs/domain/${glob.replace(/^\*\*\//, '**/')}`),
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\.{1,2}(/|$)|@simdeploy/testing$)',
              allowTypeImports: true,
              message: 'libs/domain specs import relative modules and @simdeploy/testing only (others with `import type`).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['apps/dashboard/**/*.ts', 'apps/dashboard/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    rules: { ...boundaries(productionConstraints), ...reactHooks.configs.flat.recommended.rules },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
];
