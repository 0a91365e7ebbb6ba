import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import type { AppConfig } from '../../../config/configuration';
import { counter, gauge } from '../metrics/metric-registry';
import { DbMonitorRepository } from './db-monitor.repository';
import { cacheHitRatio, DbSnapshot, SlowQueries, statStatementsPlan } from './db-snapshot';
import { errorMessage } from '../../../common/errors/error-message';

/** What the monitor reads: the repository's methods (a unit test gives its own). */
export type DbMonitorReads = { [K in keyof DbMonitorRepository]: DbMonitorRepository[K] };

const JOB_NAME = 'db-performance-monitor';
const SLOW_STATEMENTS_SHOWN = 10;

const connectionsGauge = gauge({
  name: 'saga_db_connections',
  help: 'Server sessions on the service database (pg_stat_activity), by state',
  labelNames: ['state'] as const,
});
const poolGauge = gauge({
  name: 'saga_db_pool_connections',
  help: "This instance's TypeORM pool: total, idle and waiting clients",
  labelNames: ['kind'] as const,
});
const cacheHitGauge = gauge({
  name: 'saga_db_cache_hit_ratio',
  help: 'Buffer cache hit ratio of the service database (blks_hit / (blks_hit + blks_read))',
});
const tableBytesGauge = gauge({
  name: 'saga_db_table_size_bytes',
  help: 'Size of a service table: its data (part=table), its indexes (part=indexes), all (part=total)',
  labelNames: ['table', 'part'] as const,
});
const indexBytesGauge = gauge({
  name: 'saga_db_index_size_bytes',
  help: 'Size of each index of the service tables',
  labelNames: ['table', 'index'] as const,
});
const statStatementsGauge = gauge({
  name: 'saga_db_stat_statements_available',
  help: '1 when pg_stat_statements can be read in the service database, else 0',
});
const slowStatementsGauge = gauge({
  name: 'saga_db_slow_statements',
  help: 'Statements whose mean execution time is at least SLOW_QUERY_MS (pg_stat_statements)',
});
const snapshotSecondsGauge = gauge({
  name: 'saga_db_monitor_duration_seconds',
  help: 'How long the last DB monitor snapshot took',
});
const lastSuccessGauge = gauge({
  name: 'saga_db_monitor_last_success_timestamp_seconds',
  help: 'When the DB monitor last took a snapshot (Unix time)',
});
const failuresCounter = counter({
  name: 'saga_db_monitor_failures_total',
  help: 'DB monitor runs that failed',
});

export interface DbMonitorState {
  schedule: string;
  snapshot: DbSnapshot | null;
  lastFailure: { at: Date; message: string } | null;
}

/**
 * The DB performance monitor: on MONITOR_CRON (and once at start, without holding the start up)
 * it records connections, pool usage, cache hit ratio, table and index sizes and slow statements,
 * keeps the latest snapshot for GET /admin/db-metrics and exports it as gauges. Its failures are
 * logged and counted; they never reach a request.
 */
@Injectable()
export class DbMonitorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('DbMonitor');
  private readonly schedule: string;
  private readonly slowQueryMs: number;
  private snapshot: DbSnapshot | null = null;
  private lastFailure: { at: Date; message: string } | null = null;
  private inFlight: Promise<void> | null = null;
  /** Set when creating pg_stat_statements failed, so that it is not tried on every run. */
  private createFailure: string | null = null;

  constructor(
    @Inject(DbMonitorRepository) private readonly repository: DbMonitorReads,
    private readonly scheduler: SchedulerRegistry,
    config: ConfigService<AppConfig, true>,
  ) {
    this.schedule = config.get('monitorCron', { infer: true });
    this.slowQueryMs = config.get('database', { infer: true }).slowQueryMs;
  }

  onApplicationBootstrap(): void {
    let job: CronJob;
    try {
      job = CronJob.from({ cronTime: this.schedule, onTick: () => this.refresh(), start: false });
    } catch (error) {
      throw new Error(
        `MONITOR_CRON "${this.schedule}" is not a valid cron expression: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    this.scheduler.addCronJob(JOB_NAME, job);
    job.start();
    void this.refresh();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.scheduler.doesExist('cron', JOB_NAME)) this.scheduler.deleteCronJob(JOB_NAME);
    // Let a run in progress finish before the pool closes under it.
    await this.inFlight;
  }

  /** The latest snapshot (waiting for the first one if it is being taken). */
  async state(): Promise<DbMonitorState> {
    if (this.snapshot === null && this.inFlight !== null) await this.inFlight;
    return { schedule: this.schedule, snapshot: this.snapshot, lastFailure: this.lastFailure };
  }

  /** Takes a snapshot now, unless one is being taken. Never rejects. */
  refresh(): Promise<void> {
    this.inFlight ??= this.takeSnapshot().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async takeSnapshot(): Promise<void> {
    const started = performance.now();
    try {
      const pool = this.repository.poolUsage();
      const tables = this.repository.serviceTables();
      const core = await this.repository.run(async () => ({
        connections: await this.repository.connectionsByState(),
        blocks: await this.repository.blockCounts(),
        tables: await this.repository.tableSizes(tables),
      }));
      const slowQueries = await this.slowQueries();
      const byState = core.connections;
      const snapshot: DbSnapshot = {
        takenAt: new Date(),
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        connections: {
          total: Object.values(byState).reduce((sum, n) => sum + n, 0),
          byState,
        },
        pool,
        cacheHitRatio: cacheHitRatio(core.blocks.hit, core.blocks.read),
        tables: core.tables,
        slowQueries,
      };
      this.snapshot = snapshot;
      this.export(snapshot);
    } catch (error) {
      const message = errorMessage(error);
      this.lastFailure = { at: new Date(), message };
      failuresCounter.inc();
      this.logger.warn(`DB monitor snapshot failed: ${message}`);
    }
  }

  /** Slow statements from pg_stat_statements, or why there are none to show. */
  private async slowQueries(): Promise<SlowQueries> {
    const unavailable = (reason: string): SlowQueries => ({
      available: false,
      reason,
      thresholdMs: this.slowQueryMs,
      matching: 0,
      statements: [],
    });
    const plan = statStatementsPlan(
      await this.repository.run(() => this.repository.statStatementsState()),
    );
    let schema: string;
    switch (plan.action) {
      case 'none':
        return unavailable(plan.reason);
      case 'read':
        schema = plan.schema;
        break;
      case 'create':
        if (this.createFailure !== null) return unavailable(this.createFailure);
        try {
          schema = await this.repository.run(() => this.repository.createStatStatements());
          this.logger.log(`Created the pg_stat_statements extension in schema ${schema}`);
        } catch (error) {
          this.createFailure = `pg_stat_statements is not installed in this database and could not be created: ${errorMessage(error)}`;
          this.logger.warn(this.createFailure);
          return unavailable(this.createFailure);
        }
        break;
    }
    try {
      const found = await this.repository.run(() =>
        this.repository.slowStatements(schema, this.slowQueryMs, SLOW_STATEMENTS_SHOWN),
      );
      return { available: true, reason: null, thresholdMs: this.slowQueryMs, ...found };
    } catch (error) {
      return unavailable(`pg_stat_statements could not be read: ${errorMessage(error)}`);
    }
  }

  private export(snapshot: DbSnapshot): void {
    connectionsGauge.reset();
    for (const [state, count] of Object.entries(snapshot.connections.byState)) {
      connectionsGauge.set({ state }, count);
    }
    if (snapshot.pool !== null) {
      poolGauge.set({ kind: 'total' }, snapshot.pool.total);
      poolGauge.set({ kind: 'idle' }, snapshot.pool.idle);
      poolGauge.set({ kind: 'waiting' }, snapshot.pool.waiting);
    }
    if (snapshot.cacheHitRatio !== null) cacheHitGauge.set(snapshot.cacheHitRatio);
    for (const table of snapshot.tables) {
      tableBytesGauge.set({ table: table.table, part: 'table' }, table.tableBytes);
      tableBytesGauge.set({ table: table.table, part: 'indexes' }, table.indexBytes);
      tableBytesGauge.set({ table: table.table, part: 'total' }, table.totalBytes);
      for (const index of table.indexes) {
        indexBytesGauge.set({ table: table.table, index: index.name }, index.bytes);
      }
    }
    statStatementsGauge.set(snapshot.slowQueries.available ? 1 : 0);
    slowStatementsGauge.set(snapshot.slowQueries.matching);
    snapshotSecondsGauge.set(snapshot.durationMs / 1000);
    lastSuccessGauge.set(snapshot.takenAt.getTime() / 1000);
  }
}
