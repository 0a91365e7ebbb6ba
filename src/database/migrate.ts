import { DataSource, Migration } from 'typeorm';

// Any fixed 64-bit key shared by every instance of this service.
const MIGRATION_LOCK_KEY = 7_243_901_118_223;

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so instances starting together take
 * turns instead of racing on the schema.
 */
export async function migrateWithLock(dataSource: DataSource): Promise<Migration[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      return await dataSource.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
