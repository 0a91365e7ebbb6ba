import type { DataSource } from 'typeorm';

/**
 * TypeORM's pg pool: the PostgreSQL driver's `master`, once the data source is initialized.
 * TypeORM does not type it, so it is `unknown` here until its reader has checked what it needs.
 */
export function driverPool(dataSource: DataSource): unknown {
  const { driver } = dataSource;
  return 'master' in driver ? driver.master : undefined;
}

/** How busy a pg pool is. */
export interface PoolUsage {
  total: number;
  idle: number;
  waiting: number;
  max: number | null;
}

/** What is read of a pg pool's counts. */
interface PgPoolCounts {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options?: { max?: number };
}

function hasPoolCounts(value: unknown): value is PgPoolCounts {
  return (
    typeof value === 'object' &&
    value !== null &&
    'totalCount' in value &&
    typeof value.totalCount === 'number' &&
    'idleCount' in value &&
    typeof value.idleCount === 'number' &&
    'waitingCount' in value &&
    typeof value.waitingCount === 'number'
  );
}

/** The usage of a pg pool; null when `pool` is not one. */
export function poolUsageOf(pool: unknown): PoolUsage | null {
  if (!hasPoolCounts(pool)) return null;
  return {
    total: pool.totalCount,
    idle: pool.idleCount,
    waiting: pool.waitingCount,
    max: pool.options?.max ?? null,
  };
}
