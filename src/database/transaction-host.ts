import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';

type Row = object;

/** What the pg pool and a pg client have in common. */
interface PgQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/**
 * The one way to run a database transaction: `run(fn)` opens it, and every repository call made
 * inside `fn` (however deep) joins it through async-local context. Outside `run`, repositories
 * use the pool directly.
 *
 * Statements go to TypeORM's pg connections as named prepared statements: PostgreSQL parses and
 * plans each distinct statement once per connection instead of on every call.
 */
@Injectable()
export class TransactionHost {
  private readonly storage = new AsyncLocalStorage<EntityManager>();
  private readonly names = new Map<string, string>();
  private readonly slowMs: number;

  constructor(private readonly dataSource: DataSource) {
    this.slowMs = dataSource.options.maxQueryExecutionTime ?? 0;
  }

  get inTransaction(): boolean {
    return this.storage.getStore() !== undefined;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return work();
    return this.dataSource.transaction((manager) => this.storage.run(manager, work));
  }

  /** Runs parameterized SQL in the current transaction (or on the pool) and returns its rows. */
  async query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const target = await this.connection();
    const started = Date.now();
    try {
      const result = await target.query({ name: this.nameOf(sql), text: sql, values: [...params] });
      const elapsed = Date.now() - started;
      if (this.slowMs > 0 && elapsed > this.slowMs)
        this.dataSource.logger.logQuerySlow(elapsed, sql);
      return result.rows as T[];
    } catch (error) {
      this.dataSource.logger.logQueryError(error instanceof Error ? error : String(error), sql);
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

  private async connection(): Promise<PgQueryable> {
    const runner = this.storage.getStore()?.queryRunner;
    if (runner !== undefined) return (await runner.connect()) as PgQueryable;
    return (this.dataSource.driver as unknown as { master: PgQueryable }).master;
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
