// The dependency rules `npm run lint` holds the source to (`npm run lint:deps` alone).
// Paths are relative to the repository root; `$1` in a `to` refers to the group `from` captured.

/** Unit tests beside the source may import anything. */
const SPEC = '\\.spec\\.ts$';

/**
 * The one cycle the saga module still has, left to its restructuring: the mapper takes the row
 * types from the repository (type-only), the repository takes isTerminal from the mapper. A cycle
 * made of these two files only is let through, in whichever folder of the module they are; any
 * other cycle, through them or not, is reported.
 */
const SAGA_MAPPER_REPOSITORY_CYCLE = '^src/modules/saga/(.*/|)saga\\.(mapper|repository)\\.ts$';

/**
 * The saga's statuses live in its entity file, which these three files import for the constants
 * and the type (the group is the importing module). They leave this exception once the saga
 * module exports its statuses from a file of their own.
 */
const SAGA_STATUS_IMPORTERS =
  '^src/modules/([^/]+)/(dto/list-sagas\\.query|metrics/saga-metrics|retention\\.repository)\\.ts$';
const SAGA_STATE_ENTITY = '^src/modules/saga/(.*/|)saga-state\\.entity\\.ts$';

/** Another module's entity or repository; `$1` is the importing module. */
const FOREIGN_ENTITY_OR_REPOSITORY = {
  path: '^src/modules/[^/]+/.+\\.(entity|repository)\\.ts$',
  pathNot: '^src/modules/$1/',
};
const FOREIGN_DATA_ACCESS =
  "A module reaches another's data through that module's services or events, never through its " +
  'entities or repositories (src/database/entities.ts, the migrations and the CLIs may).';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules that depend on each other, directly or through others: break the cycle.',
      from: {},
      to: { circular: true, via: { pathNot: SAGA_MAPPER_REPOSITORY_CYCLE } },
    },
    {
      name: 'common-stays-generic',
      severity: 'error',
      comment: 'src/common/ serves every module; it imports no module, no database code, no CLI.',
      from: { path: '^src/common/', pathNot: SPEC },
      to: { path: '^src/(modules|database|cli)/' },
    },
    {
      name: 'no-import-of-cli',
      severity: 'error',
      comment: 'src/cli/ holds process entry points (each runs on import): nothing imports them.',
      from: { pathNot: SPEC },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-foreign-entity-or-repository',
      severity: 'error',
      comment: FOREIGN_DATA_ACCESS,
      from: { path: '^src/modules/([^/]+)/', pathNot: [SPEC, SAGA_STATUS_IMPORTERS] },
      to: FOREIGN_ENTITY_OR_REPOSITORY,
    },
    {
      name: 'no-foreign-entity-or-repository',
      severity: 'error',
      comment: `${FOREIGN_DATA_ACCESS} Excepted until the saga exports its statuses: the saga state entity.`,
      from: { path: SAGA_STATUS_IMPORTERS },
      to: {
        ...FOREIGN_ENTITY_OR_REPOSITORY,
        pathNot: [FOREIGN_ENTITY_OR_REPOSITORY.pathNot, SAGA_STATE_ENTITY],
      },
    },
    {
      name: 'no-test-code-in-source',
      severity: 'error',
      comment: 'The service never loads the tests, their support code or the benchmarks.',
      from: { path: '^src/', pathNot: SPEC },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A source file nothing imports and that imports nothing is dead code.',
      // Migrations are loaded by a glob (src/database/data-source-options.ts), not imported.
      from: {
        orphan: true,
        path: '^src/',
        pathNot: [SPEC, '\\.d\\.ts$', '^src/database/migrations/'],
      },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to no file.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|coverage|\\.data)/' },
    // Type-only imports count: a cycle through types is a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
