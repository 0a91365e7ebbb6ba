import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ConfigError, type AppConfig, type RetentionConfig } from '../../config/configuration';
import { SessionConnection } from '../../database/session-connection';
import { JobsTransactionHost } from '../../database/work-pools';
import { counter, gauge } from '../monitoring/metrics/metric-registry';
import { SagaViewCache } from '../saga/read-model/saga-view.cache';
import {
  DueCounts,
  RemovedRows,
  RetentionRepository,
  START,
  type SagaCursor,
} from './retention.repository';
import { archiveFileName, checkArchiveDir, SagaArchiveWriter } from './saga-archive';

/** Held by the instance running the job, for the run: two never remove at the same time. */
const LOCK_SCOPE = 'purchase-saga:retention';
const LOCK_NAME = 'run';

export interface RetentionRemoved extends RemovedRows {
  /** Outbox events removed on their own (of sagas kept), beyond those that went with sagas. */
  outboxEventsAlone: number;
  /** Published integration events removed on their own (of sagas kept). */
  integrationEventsAlone: number;
  /** Delivered webhook deliveries (with their attempts) past the outbox window. */
  webhookDeliveries: number;
  idempotencyKeys: number;
}

export interface RetentionRun {
  instance: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Transactions committed. */
  slices: number;
  /** Everything older than these went (none: kept for ever). */
  cutoffs: { sagas: string | null; outbox: string | null; idempotency: string | null };
  removed: RetentionRemoved;
  /** Tables vacuumed after the removal (see vacuum). */
  vacuumed: string[];
  archive: { file: string; bytes: number } | null;
  /** Set when the run stopped on an error: what it removed until then stays removed. */
  error?: string;
}

/** The policy and what it did, for GET /admin/statistics. */
export interface RetentionStatus {
  /** Windows in milliseconds (null: kept for ever); the schedule (null: off). */
  policy: {
    sagasMs: number | null;
    outboxMs: number | null;
    idempotencyMs: number | null;
    cron: string | null;
    archive: boolean;
  };
  /** Sagas removed so far, by any instance. */
  purgedSagas: number;
  lastRun: RetentionRun | null;
}

export type RetentionOutcome =
  | { kind: 'ran'; run: RetentionRun }
  | { kind: 'busy' }
  | { kind: 'dry-run'; cutoffs: RetentionRun['cutoffs']; due: DueCounts };

const removedRows = counter({
  name: 'retention_rows_removed_total',
  help: 'Rows removed by the retention job, per table (idempotency_keys: keys freed)',
  labelNames: ['table'] as const,
});
const archiveBytes = counter({
  name: 'retention_archive_bytes_total',
  help: 'Compressed bytes the retention job wrote to ARCHIVE_DIR',
});
const runs = counter({
  name: 'retention_runs_total',
  help: 'Retention runs by result (busy: another instance was running it)',
  labelNames: ['result'] as const,
});
const lastRun = gauge({
  name: 'retention_last_run_timestamp_seconds',
  help: 'When the last retention run of this instance finished (Unix time, seconds)',
});
const lastDuration = gauge({
  name: 'retention_last_run_duration_seconds',
  help: 'How long the last retention run of this instance took',
});

const vacuums = counter({
  name: 'retention_vacuums_total',
  help: 'VACUUMs the retention job ran after removing rows, per table',
  labelNames: ['table'] as const,
});

/** The tables removal leaves dead rows in. */
const VACUUMED_TABLES = [
  'saga_states',
  'saga_step_results',
  'transaction_logs',
  'notifications',
  'outbox_events',
  'integration_events',
  'webhook_deliveries',
  'webhook_attempts',
];
/** A table is vacuumed once its dead rows pass this many plus this share of its live ones. */
const VACUUM_MIN_DEAD = 1000;
const VACUUM_DEAD_RATIO = 0.1;
const VACUUM_COST_DELAY = '2ms';

const TABLES: Record<keyof RetentionRemoved, string> = {
  sagas: 'saga_states',
  steps: 'saga_step_results',
  logs: 'transaction_logs',
  notifications: 'notifications',
  outboxEvents: 'outbox_events',
  outboxEventsAlone: 'outbox_events',
  integrationEvents: 'integration_events',
  integrationEventsAlone: 'integration_events',
  webhookDeliveries: 'webhook_deliveries',
  idempotencyKeys: 'idempotency_keys',
};

type Cutoffs = { sagas?: Date; outbox?: Date; idempotency?: Date };

const iso = (date: Date | undefined): string | null => date?.toISOString() ?? null;

/** The cutoffs as a run report gives them. */
const cutoffsView = (cutoffs: Cutoffs): RetentionRun['cutoffs'] => ({
  sagas: iso(cutoffs.sagas),
  outbox: iso(cutoffs.outbox),
  idempotency: iso(cutoffs.idempotency),
});

/**
 * The retention policy (RETENTION_SAGAS, RETENTION_OUTBOX, RETENTION_IDEMPOTENCY): a run removes
 * what is past its window, slice by slice, one transaction each: settled sagas with everything
 * that belongs to them (archived first when ARCHIVE_DIR is set, and added to the purged totals
 * that keep the reconciliation balanced), then published outbox events of settled sagas, then
 * frees old Idempotency-Keys. Open sagas, sagas failed awaiting a re-drive and outbox events not
 * yet published stay, whatever their age.
 */
@Injectable()
export class RetentionService implements OnModuleInit {
  private readonly logger = new Logger(RetentionService.name);
  private readonly config: RetentionConfig;
  private readonly databaseUrl: string | undefined;

  constructor(
    private readonly repository: RetentionRepository,
    private readonly tx: JobsTransactionHost,
    private readonly views: SagaViewCache,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('retention', { infer: true });
    this.databaseUrl = config.get('database', { infer: true }).url;
  }

  /** An ARCHIVE_DIR that cannot be written stops the start, not the first run. */
  async onModuleInit(): Promise<void> {
    const dir = this.config.archiveDir;
    if (dir === undefined) return;
    await checkArchiveDir(dir).catch((error: unknown) => {
      throw new ConfigError(
        'ARCHIVE_DIR',
        `must be a directory this process can write ("${dir}": ${error instanceof Error ? error.message : String(error)})`,
      );
    });
  }

  /** What a run would remove now; nothing is taken or changed. */
  async dryRun(now = new Date()): Promise<RetentionOutcome> {
    const cutoffs = this.cutoffs(now);
    return {
      kind: 'dry-run',
      cutoffs: cutoffsView(cutoffs),
      due: await this.repository.due(cutoffs),
    };
  }

  /** One run, unless another instance is running one (then `busy`). */
  async run(instance: string, now = new Date()): Promise<RetentionOutcome> {
    if (this.databaseUrl === undefined) throw new Error('The database URL was not resolved');
    const lock = new SessionConnection(this.databaseUrl, () => undefined);
    try {
      await lock.connect();
      if (!(await lock.tryLock(LOCK_SCOPE, LOCK_NAME))) {
        runs.inc({ result: 'busy' });
        return { kind: 'busy' };
      }
      const run = await this.runLocked(instance, now, lock);
      return { kind: 'ran', run };
    } finally {
      await lock.close();
    }
  }

  async status(): Promise<RetentionStatus> {
    const { purgedSagas, lastRun } = await this.repository.progress<RetentionRun>();
    return {
      policy: {
        sagasMs: this.config.sagasMs ?? null,
        outboxMs: this.config.outboxMs ?? null,
        idempotencyMs: this.config.idempotencyMs ?? null,
        cron: this.config.cron ?? null,
        archive: this.config.archiveDir !== undefined,
      },
      purgedSagas,
      lastRun: lastRun ?? null,
    };
  }

  private async runLocked(
    instance: string,
    now: Date,
    session: SessionConnection,
  ): Promise<RetentionRun> {
    const started = Date.now();
    const cutoffs = this.cutoffs(now);
    const removed: RetentionRemoved = {
      sagas: 0,
      steps: 0,
      logs: 0,
      notifications: 0,
      outboxEvents: 0,
      outboxEventsAlone: 0,
      integrationEvents: 0,
      integrationEventsAlone: 0,
      webhookDeliveries: 0,
      idempotencyKeys: 0,
    };
    const archive =
      this.config.archiveDir === undefined || cutoffs.sagas === undefined
        ? undefined
        : new SagaArchiveWriter(this.config.archiveDir, archiveFileName(now, instance));
    let slices = 0;
    let vacuumed: string[] = [];
    let error: string | undefined;
    try {
      if (cutoffs.sagas !== undefined) {
        slices += await this.removeSagas(cutoffs.sagas, archive, removed);
      }
      if (cutoffs.outbox !== undefined) {
        slices += await this.removeOutbox(cutoffs.outbox, removed);
        slices += await this.removeIntegrationEvents(cutoffs.outbox, removed);
        slices += await this.removeWebhookDeliveries(cutoffs.outbox, removed);
      }
      if (cutoffs.idempotency !== undefined) {
        slices += await this.freeKeys(cutoffs.idempotency, removed);
      }
      vacuumed = await this.vacuum(session);
    } catch (failure) {
      error = failure instanceof Error ? failure.message : String(failure);
    } finally {
      await archive?.close();
    }
    const run: RetentionRun = {
      instance,
      startedAt: now.toISOString(),
      finishedAt: new Date().toISOString(),
      durationMs: Date.now() - started,
      slices,
      cutoffs: cutoffsView(cutoffs),
      removed,
      vacuumed,
      archive:
        archive === undefined || archive.bytes === 0
          ? null
          : { file: archive.path, bytes: archive.bytes },
      ...(error === undefined ? {} : { error }),
    };
    await this.record(run);
    return run;
  }

  private cutoffs(now: Date): Cutoffs {
    const before = (ms: number | undefined) =>
      ms === undefined ? undefined : new Date(now.getTime() - ms);
    return {
      sagas: before(this.config.sagasMs),
      outbox: before(this.config.outboxMs),
      idempotency: before(this.config.idempotencyMs),
    };
  }

  /** Slices of settled sagas past the cutoff until none is left; answers the slices taken. */
  private async removeSagas(
    cutoff: Date,
    archive: SagaArchiveWriter | undefined,
    removed: RetentionRemoved,
  ): Promise<number> {
    let from: SagaCursor = START;
    for (let slices = 0; ; slices++) {
      const slice = await this.paced(() =>
        this.tx.run(async () => {
          const picked = await this.repository.pickSagas(cutoff, from, this.config.sliceSize);
          if (picked.length === 0) return undefined;
          const kept = await this.repository.withPendingEvents(picked.map((s) => s.transaction_id));
          const going = picked.filter((saga) => !kept.has(saga.transaction_id));
          const ids = going.map((saga) => saga.transaction_id);
          let rows: RemovedRows | undefined;
          if (ids.length > 0) {
            const lines = archive === undefined ? [] : await this.repository.archiveLines(ids);
            await this.repository.rollUp(ids);
            rows = await this.repository.removeSagas(ids);
            // On disk before the removal commits.
            if (archive !== undefined) archiveBytes.inc(await archive.append(lines));
          }
          const last = picked[picked.length - 1];
          return {
            going,
            rows,
            next: { createdAt: last.created_at, transactionId: last.transaction_id },
          };
        }),
      );
      if (slice === undefined) return slices;
      from = slice.next;
      if (slice.rows !== undefined) {
        for (const key of [
          'sagas',
          'steps',
          'logs',
          'notifications',
          'outboxEvents',
          'integrationEvents',
        ] as const) {
          removed[key] += slice.rows[key];
          removedRows.inc({ table: TABLES[key] }, slice.rows[key]);
        }
        await this.views.forget(
          slice.going.map((saga) => ({
            transactionId: saga.transaction_id,
            version: saga.version,
          })),
        );
      }
    }
  }

  /**
   * One slice, then a pause as long as it took: a run takes the database half the time it
   * lasts, so the purchases never meet a long burst of removal.
   */
  private async paced<T>(work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await work();
    const tookMs = Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, tookMs));
    return result;
  }

  private async removeOutbox(cutoff: Date, removed: RetentionRemoved): Promise<number> {
    const below = await this.repository.outboxBoundary(cutoff);
    let after = '0';
    for (let slices = 0; ; slices++) {
      const slice = await this.paced(() =>
        this.repository.removeOutboxEvents(cutoff, after, below, this.config.sliceSize),
      );
      if (slice.last === undefined) return slices;
      after = slice.last;
      removed.outboxEventsAlone += slice.removed;
      removedRows.inc({ table: TABLES.outboxEventsAlone }, slice.removed);
    }
  }

  /** Published integration events past the outbox window, slice by slice. */
  private async removeIntegrationEvents(cutoff: Date, removed: RetentionRemoved): Promise<number> {
    let after = '0';
    for (let slices = 0; ; slices++) {
      const slice = await this.paced(() =>
        this.repository.removeIntegrationEvents(cutoff, after, this.config.sliceSize),
      );
      if (slice.last === undefined) return slices;
      after = slice.last;
      removed.integrationEventsAlone += slice.removed;
      removedRows.inc({ table: TABLES.integrationEventsAlone }, slice.removed);
    }
  }

  /** Delivered webhook deliveries past the outbox window (failed ones stay, to be re-sent). */
  private async removeWebhookDeliveries(cutoff: Date, removed: RetentionRemoved): Promise<number> {
    for (let slices = 0; ; slices++) {
      const gone = await this.paced(() =>
        this.repository.removeWebhookDeliveries(cutoff, this.config.sliceSize),
      );
      if (gone === 0) return slices;
      removed.webhookDeliveries += gone;
      removedRows.inc({ table: TABLES.webhookDeliveries }, gone);
    }
  }

  private async freeKeys(cutoff: Date, removed: RetentionRemoved): Promise<number> {
    let from: SagaCursor = START;
    for (let slices = 0; ; slices++) {
      const slice = await this.paced(() =>
        this.repository.freeIdempotencyKeys(cutoff, from, this.config.sliceSize),
      );
      if (slice.last === undefined) return slices;
      from = slice.last;
      removed.idempotencyKeys += slice.freed;
      removedRows.inc({ table: TABLES.idempotencyKeys }, slice.freed);
    }
  }

  /**
   * Vacuums the tables whose dead rows (what removal left) passed a tenth of their live ones, so
   * that the space goes back to the tables for new rows whatever autovacuum's settings (off, or
   * too throttled to follow removal at full speed). Answers the tables vacuumed.
   */
  private async vacuum(session: SessionConnection): Promise<string[]> {
    const due = await session.query<{ relname: string }>(
      `SELECT relname FROM pg_stat_user_tables
       WHERE schemaname = current_schema() AND relname = ANY($1)
         AND n_dead_tup > $2::bigint + n_live_tup * $3::float8`,
      [VACUUMED_TABLES, VACUUM_MIN_DEAD, VACUUM_DEAD_RATIO],
    );
    const vacuumed: string[] = [];
    // Paced as autovacuum is (its default cost delay): slower, but no burst the purchases feel.
    if (due.length > 0) await session.query(`SET vacuum_cost_delay = '${VACUUM_COST_DELAY}'`);
    for (const { relname } of due) {
      // A table name from the list above, never input: it cannot be a parameter.
      await session.query(`VACUUM "${relname}"`);
      vacuums.inc({ table: relname });
      vacuumed.push(relname);
    }
    return vacuumed;
  }

  private async record(run: RetentionRun): Promise<void> {
    runs.inc({ result: run.error === undefined ? 'ok' : 'error' });
    lastRun.set(Date.parse(run.finishedAt) / 1000);
    lastDuration.set(run.durationMs / 1000);
    const { sagas, outboxEventsAlone, integrationEventsAlone, idempotencyKeys } = run.removed;
    const summary =
      `${sagas} saga(s) removed with their rows, ${outboxEventsAlone} outbox event(s), ` +
      `${integrationEventsAlone} published integration event(s), ` +
      `${run.removed.webhookDeliveries} delivered webhook delivery(ies), ` +
      `${idempotencyKeys} idempotency key(s) freed in ${run.durationMs} ms (${run.slices} slice(s))` +
      (run.archive === null ? '' : `, ${run.archive.bytes} bytes archived to ${run.archive.file}`) +
      (run.vacuumed.length === 0 ? '' : `; vacuumed ${run.vacuumed.join(', ')}`);
    if (run.error === undefined) this.logger.log(`Retention: ${summary}`);
    else this.logger.error(`Retention stopped on an error (${run.error}); until then ${summary}`);
    await this.repository.saveRun(run).catch((failure: unknown) => {
      this.logger.warn(`Recording the retention run failed: ${String(failure)}`);
    });
  }
}

/** How many sagas a dry run found due, all statuses together. */
export function dueSagas(due: DueCounts): number {
  return Object.values(due.sagas).reduce((sum, n) => sum + n, 0);
}
