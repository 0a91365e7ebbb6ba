import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, EntityManager } from 'typeorm';

type Row = object;

/**
 * The one way to run a database transaction: `run(fn)` opens it, and every repository call made
 * inside `fn` (however deep) joins it through async-local context. Outside `run`, repositories
 * use the pool directly.
 */
@Injectable()
export class TransactionHost {
  private readonly storage = new AsyncLocalStorage<EntityManager>();

  constructor(private readonly dataSource: DataSource) {}

  get inTransaction(): boolean {
    return this.storage.getStore() !== undefined;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return work();
    return this.dataSource.transaction((manager) => this.storage.run(manager, work));
  }

  /** Runs parameterized SQL in the current transaction (or on the pool) and returns its rows. */
  async query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const manager = this.storage.getStore() ?? this.dataSource.manager;
    const result: unknown = await manager.query(sql, params as unknown[]);
    // TypeORM answers UPDATE/DELETE with [rows, rowCount]; rows are objects, never arrays.
    if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0])) {
      return result[0] as T[];
    }
    return (Array.isArray(result) ? result : []) as T[];
  }

  async one<T extends Row = Row>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<T | undefined> {
    const rows = await this.query<T>(sql, params);
    return rows[0];
  }
}
