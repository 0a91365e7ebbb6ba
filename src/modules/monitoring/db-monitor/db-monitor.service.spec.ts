import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { register } from 'prom-client';
import { buildConfig, type AppConfig } from '../../../config/configuration';
import { DbMonitorService, type DbMonitorReads } from './db-monitor.service';
import type { PoolUsage, SlowStatement, StatStatementsState } from './db-snapshot';

const installed: StatStatementsState = {
  serverVersionNum: 160000,
  installedSchema: 'public',
  shippedWithServer: true,
  preloaded: true,
};

const slow: SlowStatement = {
  queryId: '42',
  calls: 3,
  meanExecTimeMs: 250,
  totalExecTimeMs: 750,
  rows: 3,
  query: 'SELECT pg_sleep($1)',
};

/** A repository answering from fixed values; each read can be made to fail. */
class FakeRepository implements DbMonitorReads {
  pool: PoolUsage | null = { total: 4, idle: 3, waiting: 0, max: 10 };
  blocks = { hit: 90, read: 10 };
  state: StatStatementsState = installed;
  createResult: () => Promise<string> = () => Promise.resolve('monitoring');
  slowResult: () => Promise<{ matching: number; statements: SlowStatement[] }> = () =>
    Promise.resolve({ matching: 1, statements: [slow] });
  connections: () => Promise<Record<string, number>> = () =>
    Promise.resolve({ active: 2, idle: 3 });
  createCalls = 0;
  slowSchemas: string[] = [];

  run<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }
  serviceTables(): string[] {
    return ['users'];
  }
  poolUsage(): PoolUsage | null {
    return this.pool;
  }
  connectionsByState(): Promise<Record<string, number>> {
    return this.connections();
  }
  blockCounts(): Promise<{ hit: number; read: number }> {
    return Promise.resolve(this.blocks);
  }
  tableSizes() {
    return Promise.resolve([
      {
        table: 'users',
        tableBytes: 8192,
        indexBytes: 16384,
        totalBytes: 24576,
        rowEstimate: 5,
        indexes: [{ name: 'users_pkey', bytes: 16384, scans: 7 }],
      },
    ]);
  }
  statStatementsState(): Promise<StatStatementsState> {
    return Promise.resolve(this.state);
  }
  createStatStatements(): Promise<string> {
    this.createCalls += 1;
    return this.createResult();
  }
  slowStatements(schema: string) {
    this.slowSchemas.push(schema);
    return this.slowResult();
  }
}

function monitor(repository: FakeRepository): DbMonitorService {
  const config = new ConfigService<AppConfig, true>(
    buildConfig({ MONITOR_CRON: '0 * * * * *', SLOW_QUERY_MS: '200' }),
  );
  return new DbMonitorService(repository, new SchedulerRegistry(), config);
}

async function gaugeValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = register.getSingleMetric(name);
  if (metric === undefined) throw new Error(`No metric ${name}`);
  const { values } = await metric.get();
  const found = values.find((value) =>
    Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted),
  );
  if (found === undefined) throw new Error(`No value of ${name} for ${JSON.stringify(labels)}`);
  return found.value;
}

describe('DbMonitorService', () => {
  it('takes a snapshot of connections, pool, cache hits, sizes and slow statements', async () => {
    const repository = new FakeRepository();
    const service = monitor(repository);

    await service.refresh();
    const { snapshot, lastFailure, schedule } = await service.state();

    expect(schedule).toBe('0 * * * * *');
    expect(lastFailure).toBeNull();
    expect(snapshot).toMatchObject({
      connections: { total: 5, byState: { active: 2, idle: 3 } },
      pool: { total: 4, idle: 3, waiting: 0, max: 10 },
      cacheHitRatio: 0.9,
      slowQueries: { available: true, reason: null, thresholdMs: 200, matching: 1 },
    });
    expect(repository.slowSchemas).toEqual(['public']);
    expect(await gaugeValue('saga_db_pool_connections', { kind: 'total' })).toBe(4);
    expect(await gaugeValue('saga_db_cache_hit_ratio')).toBe(0.9);
    expect(await gaugeValue('saga_db_slow_statements')).toBe(1);
  });

  it('leaves out what it cannot know: no pool, no block reads yet', async () => {
    const repository = new FakeRepository();
    repository.pool = null;
    repository.blocks = { hit: 0, read: 0 };
    const service = monitor(repository);

    await service.refresh();
    const { snapshot } = await service.state();

    expect(snapshot?.pool).toBeNull();
    expect(snapshot?.cacheHitRatio).toBeNull();
  });

  it('creates pg_stat_statements when it is missing and reads from its schema', async () => {
    const repository = new FakeRepository();
    repository.state = { ...installed, installedSchema: null };
    const service = monitor(repository);

    await service.refresh();

    expect(repository.createCalls).toBe(1);
    expect(repository.slowSchemas).toEqual(['monitoring']);
    expect((await service.state()).snapshot?.slowQueries.available).toBe(true);
  });

  it('tries to create pg_stat_statements only once when that fails', async () => {
    const repository = new FakeRepository();
    repository.state = { ...installed, installedSchema: null };
    repository.createResult = () => Promise.reject(new Error('permission denied'));
    const service = monitor(repository);

    await service.refresh();
    await service.refresh();
    const { snapshot } = await service.state();

    expect(repository.createCalls).toBe(1);
    expect(snapshot?.slowQueries).toEqual({
      available: false,
      reason:
        'pg_stat_statements is not installed in this database and could not be created: permission denied',
      thresholdMs: 200,
      matching: 0,
      statements: [],
    });
    expect(await gaugeValue('saga_db_stat_statements_available')).toBe(0);
  });

  it('says why there are no slow statements when the server cannot record them', async () => {
    const repository = new FakeRepository();
    repository.state = { ...installed, serverVersionNum: 120000 };
    const service = monitor(repository);

    await service.refresh();

    expect((await service.state()).snapshot?.slowQueries.reason).toBe(
      'PostgreSQL 13 or later is needed (the server is version 120000)',
    );
  });

  it('still takes the snapshot when pg_stat_statements cannot be read', async () => {
    const repository = new FakeRepository();
    repository.slowResult = () => Promise.reject(new Error('relation does not exist'));
    const service = monitor(repository);

    await service.refresh();
    const { snapshot } = await service.state();

    expect(snapshot?.connections.total).toBe(5);
    expect(snapshot?.slowQueries).toMatchObject({
      available: false,
      reason: 'pg_stat_statements could not be read: relation does not exist',
    });
  });

  it('records a failed run without rejecting, and keeps the previous snapshot', async () => {
    const repository = new FakeRepository();
    const service = monitor(repository);
    await service.refresh();
    const first = (await service.state()).snapshot;

    // Some drivers reject with plain strings rather than Errors.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    repository.connections = () => Promise.reject('server closed the connection');
    await expect(service.refresh()).resolves.toBeUndefined();
    const { snapshot, lastFailure } = await service.state();

    expect(snapshot).toBe(first);
    expect(lastFailure).toEqual({ at: expect.any(Date), message: 'server closed the connection' });
  });
});
