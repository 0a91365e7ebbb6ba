import { DataSource } from 'typeorm';
import { poolUsageOf } from '../../../database/pg-pool';
import { FakePgDatabase } from '../../../database/pg-pool.fixture';
import { JobsTransactionHost } from '../../../database/work-pools';
import { DbMonitorRepository, serviceTablesOf } from './db-monitor.repository';

/** A database answering each statement with the rows given for the first fragment it contains. */
function fakeDatabase(answers: [fragment: string, rows: object[]][]): FakePgDatabase {
  return new FakePgDatabase((sql) => {
    const answer = answers.find(([fragment]) => sql.includes(fragment));
    return Promise.resolve({ command: sql.split(' ')[0], rows: answer?.[1] ?? [] });
  });
}

/** A PostgreSQL data source, never initialized: it holds no pool and no entities. */
const dataSource = (options: { migrationsTableName?: string } = {}) =>
  new DataSource({ type: 'postgres', ...options });

function repository(answers: [string, object[]][] = [], source: DataSource = dataSource()) {
  const db = fakeDatabase(answers);
  return { repo: new DbMonitorRepository(new JobsTransactionHost(db), source), db };
}

describe('DbMonitorRepository', () => {
  it('lists its own tables and the migrations table, once each and sorted', () => {
    expect(serviceTablesOf(['users', 'items', 'users'])).toEqual(['items', 'migrations', 'users']);
    expect(serviceTablesOf([], 'schema_log')).toEqual(['schema_log']);
    expect(repository().repo.serviceTables()).toEqual(['migrations']);
    const named = repository([], dataSource({ migrationsTableName: 'schema_log' }));
    expect(named.repo.serviceTables()).toEqual(['schema_log']);
  });

  it('reads the pool only when the driver holds a pg pool', () => {
    const pool = { totalCount: 5, idleCount: 2, waitingCount: 1, options: { max: 20 } };
    expect(poolUsageOf(pool)).toEqual({ total: 5, idle: 2, waiting: 1, max: 20 });
    const unbounded = { totalCount: 1, idleCount: 1, waitingCount: 0 };
    expect(poolUsageOf(unbounded)?.max).toBeNull();
    expect(poolUsageOf(null)).toBeNull();
    expect(poolUsageOf({ totalCount: '5' })).toBeNull();
    // A data source not initialized has no pool yet.
    expect(repository().repo.poolUsage()).toBeNull();
  });

  it('sets a short statement timeout for the work it runs', async () => {
    const { repo, db } = repository();
    await expect(
      repo.run(async () => {
        await repo.connectionsByState();
        return 'done';
      }),
    ).resolves.toBe('done');
    // In the work's own transaction, before its statements.
    expect(db.texts()).toEqual([
      'BEGIN',
      expect.stringContaining("set_config('statement_timeout'"),
      expect.stringContaining('pg_stat_activity'),
      'COMMIT',
    ]);
    expect(db.statements[1]).toMatchObject({ values: ['5000'] });
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
    const { repo, db } = repository([['e.extname', [{ schema: 'extensions' }]]]);
    expect(await repo.createStatStatements()).toBe('extensions');
    expect(db.texts()[0]).toBe('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  });

  it('reads slow statements from the quoted view, rounding times', async () => {
    const { repo, db } = repository([
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
    expect(db.texts()[0]).toContain('"my""schema".pg_stat_statements');
    expect(await repository().repo.slowStatements('public', 200, 10)).toEqual({
      matching: 0,
      statements: [],
    });
  });
});
