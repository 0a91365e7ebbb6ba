import type { DataSource } from 'typeorm';
import type { TransactionHost } from '../../../database/transaction-host';
import { DbMonitorRepository } from './db-monitor.repository';

/** Answers each statement with the rows given for the first fragment it contains. */
function fakeTx(answers: [fragment: string, rows: object[]][]) {
  const statements: string[] = [];
  const query = (sql: string) => {
    statements.push(sql);
    const answer = answers.find(([fragment]) => sql.includes(fragment));
    return Promise.resolve(answer?.[1] ?? []);
  };
  const tx = {
    query,
    one: async (sql: string) => (await query(sql))[0],
    run: <T>(work: () => Promise<T>) => work(),
  };
  return { tx: tx as unknown as TransactionHost, statements };
}

function fakeDataSource(
  master: unknown,
  options: { migrationsTableName?: string } = {},
  tables: string[] = [],
): DataSource {
  return {
    driver: { master },
    options,
    entityMetadatas: tables.map((tableName) => ({ tableName })),
  } as unknown as DataSource;
}

function repository(
  answers: [string, object[]][] = [],
  dataSource: DataSource = fakeDataSource(undefined),
) {
  const { tx, statements } = fakeTx(answers);
  return { repo: new DbMonitorRepository(tx, dataSource), statements };
}

describe('DbMonitorRepository', () => {
  it('lists its own tables and the migrations table, once each and sorted', () => {
    const { repo } = repository([], fakeDataSource(undefined, {}, ['users', 'items', 'users']));
    expect(repo.serviceTables()).toEqual(['items', 'migrations', 'users']);

    const named = repository([], fakeDataSource(undefined, { migrationsTableName: 'schema_log' }));
    expect(named.repo.serviceTables()).toEqual(['schema_log']);
  });

  it('reads the pool only when the driver holds a pg pool', () => {
    const pool = { totalCount: 5, idleCount: 2, waitingCount: 1, options: { max: 20 } };
    expect(repository([], fakeDataSource(pool)).repo.poolUsage()).toEqual({
      total: 5,
      idle: 2,
      waiting: 1,
      max: 20,
    });
    const unbounded = { totalCount: 1, idleCount: 1, waitingCount: 0 };
    expect(repository([], fakeDataSource(unbounded)).repo.poolUsage()?.max).toBeNull();
    expect(repository([], fakeDataSource(null)).repo.poolUsage()).toBeNull();
    expect(repository([], fakeDataSource({ totalCount: '5' })).repo.poolUsage()).toBeNull();
  });

  it('sets a short statement timeout for the work it runs', async () => {
    const { repo, statements } = repository();
    await expect(repo.run(() => Promise.resolve('done'))).resolves.toBe('done');
    expect(statements[0]).toContain('statement_timeout');
  });

  it('counts no blocks when the database has no statistics row', async () => {
    const { repo } = repository();
    expect(await repo.blockCounts()).toEqual({ hit: 0, read: 0 });
    const counted = repository([['blks_hit', [{ hit: '120', read: '30' }]]]);
    expect(await counted.repo.blockCounts()).toEqual({ hit: 120, read: 30 });
  });

  it('reports sizes with their indexes, unknown estimates and scans as null', async () => {
    const { repo } = repository([
      [
        'pg_total_relation_size',
        [
          {
            table: 'items',
            rowEstimate: '-1',
            tableBytes: '0',
            indexBytes: '8192',
            totalBytes: '8192',
          },
          {
            table: 'users',
            rowEstimate: '12',
            tableBytes: '8192',
            indexBytes: '0',
            totalBytes: '8192',
          },
        ],
      ],
      ['pg_index x', [{ table: 'items', name: 'items_pkey', bytes: '8192', scans: null }]],
    ]);

    expect(await repo.tableSizes(['items', 'users'])).toEqual([
      {
        table: 'items',
        rowEstimate: null,
        tableBytes: 0,
        indexBytes: 8192,
        totalBytes: 8192,
        indexes: [{ name: 'items_pkey', bytes: 8192, scans: null }],
      },
      {
        table: 'users',
        rowEstimate: 12,
        tableBytes: 8192,
        indexBytes: 0,
        totalBytes: 8192,
        indexes: [],
      },
    ]);
  });

  it('tells whether pg_stat_statements is preloaded, reading quoted library names', async () => {
    const state = (preload: string | null) =>
      repository([
        ['server_version_num', [{ version: 160002, schema: null, shipped: true, preload }]],
      ]).repo.statStatementsState();

    expect(await state('auto_explain, "pg_stat_statements"')).toEqual({
      serverVersionNum: 160002,
      installedSchema: null,
      shippedWithServer: true,
      preloaded: true,
    });
    expect((await state('auto_explain')).preloaded).toBe(false);
    // A role that may not read the setting cannot tell.
    expect((await state(null)).preloaded).toBeNull();
  });

  it('fails loudly when the server gives no answer about the extension', async () => {
    await expect(repository().repo.statStatementsState()).rejects.toThrow(
      'No answer about pg_stat_statements',
    );
    await expect(repository().repo.createStatStatements()).rejects.toThrow(
      'pg_stat_statements was not created',
    );
  });

  it('creates the extension and says in which schema', async () => {
    const { repo, statements } = repository([['e.extname', [{ schema: 'extensions' }]]]);
    expect(await repo.createStatStatements()).toBe('extensions');
    expect(statements[0]).toBe('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  });

  it('reads slow statements from the quoted view, rounding times', async () => {
    const { repo, statements } = repository([
      [
        'mean_exec_time',
        [
          {
            queryId: '7',
            calls: '4',
            meanExecTimeMs: 312.34567,
            totalExecTimeMs: 1249.38268,
            rows: '4',
            query: 'SELECT 1',
            matching: 3,
          },
        ],
      ],
    ]);

    expect(await repo.slowStatements('my"schema', 200, 10)).toEqual({
      matching: 3,
      statements: [
        {
          queryId: '7',
          calls: 4,
          meanExecTimeMs: 312.346,
          totalExecTimeMs: 1249.383,
          rows: 4,
          query: 'SELECT 1',
        },
      ],
    });
    expect(statements[0]).toContain('"my""schema".pg_stat_statements');
    expect(await repository().repo.slowStatements('public', 200, 10)).toEqual({
      matching: 0,
      statements: [],
    });
  });
});
