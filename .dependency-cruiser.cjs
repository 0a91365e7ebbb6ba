// The dependency rules `npm run lint` holds the source to (`npm run lint:deps` alone).
// Paths are relative to the repository root; `$1` in a `to` refers to the group `from` captured.

/** Unit tests beside the source may import anything. */
const SPEC = '\\.spec\\.ts$';

/**
 * The saga module's parts: core knows no pattern; each pattern knows the core alone (and the
 * read model, for its own routes); the read model knows the core; runtime puts them to work.
 * What the rest of the service may use of the saga is its public surface below.
 */
const SAGA = '^src/modules/saga/';
const SAGA_PUBLIC = [
  '^src/modules/saga/saga\\.module\\.ts$',
  '^src/modules/saga/core/saga\\.ts$',
  '^src/modules/saga/core/saga-changed\\.event\\.ts$',
  '^src/modules/saga/core/instance-identity\\.ts$',
  '^src/modules/saga/core/saga-versions\\.ts$',
  '^src/modules/saga/read-model/saga-reports\\.service\\.ts$',
  '^src/modules/saga/read-model/saga-view\\.cache\\.ts$',
  '^src/modules/saga/runtime/saga-admin\\.ts$',
  '^src/modules/saga/runtime/saga-version-moves\\.ts$',
];
const SAGA_LAYERS = [
  ['core', '(orchestration|choreography|read-model|runtime)'],
  ['orchestration', '(choreography|read-model|runtime)'],
  ['choreography', '(orchestration|runtime)'],
  ['read-model', '(orchestration|choreography|runtime)'],
];

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
      to: { circular: true },
    },
    ...SAGA_LAYERS.map(([from, forbidden]) => ({
      name: `saga-${from}-layering`,
      severity: 'error',
      comment: `The saga's ${from} does not depend on ${forbidden}: see SAGA above.`,
      from: { path: `^src/modules/saga/${from}/`, pathNot: SPEC },
      to: { path: `^src/modules/saga/${forbidden}/` },
    })),
    {
      name: 'saga-public-surface',
      severity: 'error',
      comment:
        'The rest of the service uses the saga through its module, its vocabulary (core/saga.ts), ' +
        'its change events, the instance identity, the definition versions it drives, the reports, ' +
        'the view cache and the admin actions (compensation, moves between definition versions).',
      from: {
        path: '^src/modules/',
        pathNot: [SAGA, SPEC],
      },
      to: { path: SAGA, pathNot: SAGA_PUBLIC },
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
      from: { path: '^src/modules/([^/]+)/', pathNot: SPEC },
      to: FOREIGN_ENTITY_OR_REPOSITORY,
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
    // Packages that name their entry only in `exports` (@nats-io/jetstream) resolve through it.
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.json'],
      exportsFields: ['exports'],
      conditionNames: ['require', 'node', 'default'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
