import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { DataSource, Logger } from 'typeorm';
import { driverPool, poolUsageOf, type PoolUsage } from './pg-pool';

type Row = object;

export interface PgResult {
  command: string;
  rows: unknown[];
}

export type PgStatement = string | { name: string; text: string; values: unknown[] };

/** What the pg pool and a pg client have in common. */
export interface PgQueryable {
  query(statement: PgStatement): Promise<PgResult>;
}

/** A pg client checked out of the pool. */
export interface PgClient extends PgQueryable {
  /** pg's connection, whose socket can hold writes back (`cork`) and send them as one. */
  connection?: { stream?: { cork?(): void; uncork?(): void } };
  release(error?: Error): void;
  on(event: 'error', listener: (error: Error) => void): void;
  removeListener(event: 'error', listener: (error: Error) => void): void;
}

/** The part of pg's Pool the host uses. */
export interface PgPool extends PgQueryable {
  connect(): Promise<PgClient>;
}

/**
 * What the host needs of the database: TypeORM's pool and query logger for the purchase path, a
 * pool of their own for reports and jobs (see work-pools.ts).
 */
export interface TransactionDatabase {
  /** The pool, asked for at each use (TypeORM's exists once its data source is initialized). */
  pool(): PgPool;
  logger: Pick<Logger, 'logQueryError' | 'logQuerySlow'>;
  /** Statements slower than this are logged; 0: none. */
  slowMs: number;
  /** Closes a pool the host owns (TypeORM closes its own). */
  close?(): Promise<void>;
}

function isPgPool(value: unknown): value is PgPool {
  return (
    typeof value === 'object' &&
    value !== null &&
    'connect' in value &&
    typeof value.connect === 'function' &&
    'query' in value &&
    typeof value.query === 'function'
  );
}

/** The database of a TypeORM data source (PostgreSQL). */
export function typeormDatabase(dataSource: DataSource): TransactionDatabase {
  return {
    pool: () => {
      const pool = driverPool(dataSource);
      if (!isPgPool(pool)) throw new Error('The data source holds no pg pool');
      return pool;
    },
    logger: dataSource.logger,
    slowMs: dataSource.options.maxQueryExecutionTime ?? 0,
  };
}

/** An open transaction: its client, and its COMMIT once sent. */
interface OpenTransaction {
  client: PgClient;
  commit?: Promise<PgResult>;
  /** Its socket holds writes back until the next tick. */
  corked: boolean;
}

/**
 * Holds back the writes of a transaction's statements until the code issuing them yields (the
 * next tick), so that statements issued together leave in one write to the socket instead of one
 * system call each (pg writes each statement on its own).
 */
function writeTogether(open: OpenTransaction): void {
  const stream = open.client.connection?.stream;
  if (open.corked || stream?.cork === undefined || stream.uncork === undefined) return;
  open.corked = true;
  stream.cork();
  process.nextTick(() => {
    open.corked = false;
    stream.uncork?.();
  });
}

/** A statement asked for after its transaction's COMMIT was sent (a programming error). */
export class StatementAfterCommitError extends Error {
  constructor() {
    super('A statement was issued after its transaction was committed');
    this.name = 'StatementAfterCommitError';
  }
}

/** The server ended a transaction with ROLLBACK where COMMIT was asked (it had failed). */
export class TransactionRolledBackError extends Error {
  constructor() {
    super('The transaction was rolled back instead of committed');
    this.name = 'TransactionRolledBackError';
  }
}

/**
 * The one way to run a database transaction: `run(fn)` opens it, and every repository call made
 * inside `fn` (however deep) joins it through async-local context. Outside `run`, repositories
 * use the pool directly.
 *
 * Statements go to the host's pg pool (TypeORM's for the purchase path; work-pools.ts for the
 * others) as named prepared statements: PostgreSQL parses and plans each distinct statement once
 * per connection instead of on every call. A transaction holds one pool client and sends each
 * statement the moment it is asked for: on a pipelined connection
 * (`pipeline: true`, see data-source-options) `BEGIN` leaves together with the first statement,
 * and statements issued without awaiting each other share one round trip, still executed in the
 * order they were issued. `commit()` sends the COMMIT behind them, so that a transaction's last
 * statements and its commit share a round trip too.
 */
export class TransactionHost {
  private readonly storage = new AsyncLocalStorage<OpenTransaction>();
  private readonly names = new Map<string, string>();

  constructor(private readonly database: TransactionDatabase) {}

  /** A host (of this class) on the pool of a TypeORM data source. */
  static of<H extends TransactionHost>(
    this: new (database: TransactionDatabase) => H,
    dataSource: DataSource,
  ): H {
    return new this(typeormDatabase(dataSource));
  }

  get inTransaction(): boolean {
    return this.storage.getStore() !== undefined;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return work();
    return this.transaction(work);
  }

  /**
   * Inside `run`: sends COMMIT now, behind the statements already issued, instead of once the
   * work has returned. The work may then only await what it issued: a later statement is
   * refused (`StatementAfterCommitError`). Resolves once the server committed; rejects with
   * `TransactionRolledBackError` when it rolled back instead (a statement before it failed),
   * and so does `run`.
   */
  commit(): Promise<void> {
    const open = this.storage.getStore();
    if (open === undefined) return Promise.reject(new Error('commit() outside a transaction'));
    if (open.commit === undefined) {
      writeTogether(open);
      open.commit = open.client.query('COMMIT');
    }
    return open.commit.then(committedOrThrow);
  }

  /** Runs parameterized SQL in the current transaction (or on the pool) and returns its rows. */
  async query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    // Sent before the first await, so that statements issued one after the other without
    // awaiting each other go out in that order.
    const open = this.storage.getStore();
    if (open?.commit !== undefined) throw new StatementAfterCommitError();
    if (open !== undefined) writeTogether(open);
    const target: PgQueryable = open?.client ?? this.pool();
    const started = Date.now();
    try {
      const result = await target.query({ name: this.nameOf(sql), text: sql, values: [...params] });
      const elapsed = Date.now() - started;
      const { slowMs } = this.database;
      if (slowMs > 0 && elapsed > slowMs) this.database.logger.logQuerySlow(elapsed, sql);
      return result.rows as T[];
    } catch (error) {
      this.database.logger.logQueryError(error instanceof Error ? error : String(error), sql);
      throw error;
    }
  }

  async one<T extends Row = Row>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<T | undefined> {
    const rows = await this.query<T>(sql, params);
    return rows[0];
  }

  private async transaction<T>(work: () => Promise<T>): Promise<T> {
    const client = await this.pool().connect();
    // A checked-out client has no listener of the pool's: its connection failing must not
    // crash the process (the statements in flight fail, and the client is discarded below).
    let broken: Error | undefined;
    const onError = (error: Error): void => {
      broken = error;
    };
    client.on('error', onError);
    const open: OpenTransaction = { client, corked: false };
    writeTogether(open);
    const begun = client.query('BEGIN');
    try {
      const result = await this.storage.run(open, work);
      await begun;
      committedOrThrow(await (open.commit ?? client.query('COMMIT')));
      return result;
    } catch (error) {
      await begun.catch(() => undefined);
      // A COMMIT already sent is answered before the ROLLBACK below, which then finds no
      // transaction. When one of the statements failed, the server rolled back; work that
      // throws for another reason after its commit leaves what committed committed.
      await open.commit?.catch(() => undefined);
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken ??=
          rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    } finally {
      client.removeListener('error', onError);
      // A client whose connection failed is closed instead of going back to the pool.
      client.release(broken);
    }
  }

  /** Connections in use and callers waiting for one; null when the pool does not tell. */
  usage(): { inUse: number; waiting: number } | null {
    const usage: PoolUsage | null = poolUsageOf(this.pool());
    return usage === null ? null : { inUse: usage.total - usage.idle, waiting: usage.waiting };
  }

  /** Closes the pool when the host owns it; statements after that fail. */
  async close(): Promise<void> {
    await this.database.close?.();
  }

  private pool(): PgPool {
    return this.database.pool();
  }

  private nameOf(sql: string): string {
    let name = this.names.get(sql);
    if (name === undefined) {
      name = `s_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
      this.names.set(sql, name);
    }
    return name;
  }
}

/** COMMIT of a transaction a failed statement aborted answers ROLLBACK, not an error. */
function committedOrThrow(end: PgResult): void {
  if (end.command !== 'COMMIT') throw new TransactionRolledBackError();
}
