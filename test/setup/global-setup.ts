import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { migrateWithLock } from '../../src/database/migrate';
import {
  assertTestDatabase,
  EMBEDDED_TEST_DIR,
  EMBEDDED_TEST_PORT,
  TEMPLATE_DATABASE,
  withAdminClient,
  withDatabase,
} from './test-database';

/**
 * Migrates a template database once; every test file then clones it (CREATE DATABASE ...
 * TEMPLATE), which is much faster than migrating again. DATABASE_URL's server when set, an
 * embedded PostgreSQL otherwise.
 */
export default async function globalSetup(): Promise<void> {
  let baseUrl = process.env.DATABASE_URL;
  if (baseUrl === undefined || baseUrl === '') {
    const embedded = await startEmbeddedPostgres({
      dir: EMBEDDED_TEST_DIR,
      port: EMBEDDED_TEST_PORT,
      database: 'saga_test',
    });
    (globalThis as { __EMBEDDED_PG__?: unknown }).__EMBEDDED_PG__ = embedded;
    baseUrl = embedded.url;
  }
  assertTestDatabase(baseUrl);
  process.env.TEST_DATABASE_URL = baseUrl;

  await withAdminClient(baseUrl, async (client) => {
    await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`,
      [TEMPLATE_DATABASE],
    );
    await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
    await client.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  });
  const dataSource = new DataSource(
    dataSourceOptions(withDatabase(baseUrl, TEMPLATE_DATABASE), {
      poolSize: 2,
      slowQueryMs: 10_000,
    }),
  );
  await dataSource.initialize();
  try {
    await migrateWithLock(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
