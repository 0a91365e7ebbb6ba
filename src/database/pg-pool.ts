import type { DataSource } from 'typeorm';

/**
 * TypeORM's pg pool: the PostgreSQL driver's `master`, once the data source is initialized.
 * TypeORM does not type it, so it is `unknown` here until its reader has checked what it needs.
 */
export function driverPool(dataSource: DataSource): unknown {
  const { driver } = dataSource;
  return 'master' in driver ? driver.master : undefined;
}
