import { Pool } from 'pg';
import type { Logger } from 'typeorm';
import { ConcurrencyGate, type GateRefusal } from '../common/concurrency-gate';
import { isStatementTimeout } from '../common/errors/database-errors';
import { DomainError, TooManyRequestsError } from '../common/errors/domain-error';
import type { ReportingPoolConfig, WorkPoolConfig } from '../config/configuration';
import { poolOptions } from './data-source-options';
import { TransactionHost, type PgPool, type TransactionDatabase } from './transaction-host';

/**
 * The classes of work besides the purchase path, each on a pg pool of its own so that none can
 * take the connections purchases and saga reads need (those keep TypeORM's pool, DB_POOL_SIZE):
 * reports and listings (`reporting`), and the background jobs (`jobs`: integrity, retention, the
 * DB monitor). A repository says which class its statements belong to by the host it takes.
 */
export type WorkClass = 'reporting' | 'jobs';

const APPLICATION_NAME = 'purchase-saga-service';

/** A pg pool of the service's own for one class of work, and its query log. */
export function workPoolDatabase(
  url: string,
  work: WorkClass,
  config: WorkPoolConfig,
  log: { logger: Pick<Logger, 'logQueryError' | 'logQuerySlow' | 'log'>; slowMs: number },
): TransactionDatabase {
  const pool = new Pool({
    connectionString: url,
    ...poolOptions({
      applicationName: `${APPLICATION_NAME}:${work}`,
      size: config.poolSize,
      statementTimeoutMs: config.statementTimeoutMs,
      // Jobs wait for their pool (as long as one statement of another job may hold it); reports
      // never queue in it, the gate in front of it sees to that.
      connectionWaitMs: Math.max(20_000, config.statementTimeoutMs),
    }),
  });
  // An idle connection the server dropped is reported here: logged, and replaced on next use.
  pool.on('error', (error) => {
    log.logger.log('warn', `${work} pool: ${error.message}`);
  });
  return {
    pool: (): PgPool => pool,
    logger: log.logger,
    slowMs: log.slowMs,
    close: () => pool.end(),
  };
}

/** Integrity, retention and the DB monitor: they wait for a connection of their pool. */
export class JobsTransactionHost extends TransactionHost {}

/**
 * Reports and listings (HTTP): at most the pool's size of statements run at once, a bounded
 * queue waits for a turn, and the rest is refused at once with 429 REPORTING_BUSY, as is a
 * statement that waited longer than the statement timeout; a statement the server cut off at
 * REPORTING_STATEMENT_TIMEOUT_MS answers 503 REPORT_TIMEOUT. A transaction takes one turn for
 * all its statements; statements issued together take a turn each, so a request issues its
 * reports one after the other (it would otherwise fill the queue on its own). Without a gate (the
 * CLIs), statements go straight to the pool.
 */
export class ReportingTransactionHost extends TransactionHost {
  private readonly shedListeners: ((reason: GateRefusal) => void)[] = [];
  private readonly gate: ConcurrencyGate | undefined;

  constructor(database: TransactionDatabase, config?: ReportingPoolConfig) {
    super(database);
    this.gate =
      config === undefined
        ? undefined
        : new ConcurrencyGate({
            limit: config.poolSize,
            queue: config.queue,
            maxWaitMs: config.statementTimeoutMs,
            refuse: (reason) => this.refuse(reason, config.statementTimeoutMs),
          });
  }

  /** Calls `listener` on every request turned away (see refuse). */
  onShed(listener: (reason: GateRefusal) => void): void {
    this.shedListeners.push(listener);
  }

  override query<T extends object = object>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<T[]> {
    // Inside a transaction the statement uses the turn its transaction holds.
    if (this.inTransaction) return super.query<T>(sql, params);
    return this.admitted(() => super.query<T>(sql, params));
  }

  override run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return work();
    return this.admitted(() => super.run(work));
  }

  override usage(): { inUse: number; waiting: number } | null {
    const usage = super.usage();
    if (usage === null || this.gate === undefined) return usage;
    return { inUse: usage.inUse, waiting: usage.waiting + this.gate.waiting };
  }

  private async admitted<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await (this.gate === undefined ? work() : this.gate.run(work));
    } catch (error) {
      if (!isStatementTimeout(error)) throw error;
      throw new DomainError(
        'REPORT_TIMEOUT',
        'The report ran longer than the reporting statement timeout and was stopped; narrow it (a time range, a user, an item) or try again later',
      );
    }
  }

  /** Queue full: come back in a second; waited too long: reports are slow, after a timeout's length. */
  private refuse(reason: GateRefusal, statementTimeoutMs: number): Error {
    for (const listener of this.shedListeners) listener(reason);
    return reason === 'queue-full'
      ? new TooManyRequestsError(
          'REPORTING_BUSY',
          'Reporting is busy (every reporting connection is taken and the queue is full); try again shortly',
          1,
        )
      : new TooManyRequestsError(
          'REPORTING_BUSY',
          'Reporting is busy (no reporting connection came free in time); try again later',
          Math.ceil(statementTimeoutMs / 1000),
        );
  }
}
