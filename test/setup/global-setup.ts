import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source-options';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { migrateWithLock } from '../../src/database/migrate';
import { buildConsole, buildService } from './build-service';
import { ensureChromium } from './ensure-chromium';
import {
  assertTestDatabase,
  EMBEDDED_TEST_DIR,
  EMBEDDED_TEST_PORT,
  withAdminClient,
  withDatabase,
} from './test-database';

/**
 * Migrates a template database once; every test file then clones it (CREATE DATABASE ...
 * TEMPLATE), which is much faster than migrating again. DATABASE_URL's server when set, an
 * embedded PostgreSQL otherwise.
 */
export default async function globalSetup(): Promise<void> {
  ensureChromium();
  const built = buildService();
  const consoleBuilt = buildConsole();
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
  const template = `saga_test_template_${randomBytes(4).toString('hex')}`;
  process.env.TEST_TEMPLATE_DATABASE = template;

  await withAdminClient(baseUrl, (client) => client.query(`CREATE DATABASE ${template}`));
  const dataSource = new DataSource(
    dataSourceOptions(withDatabase(baseUrl, template), {
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
  process.env.TEST_SERVICE_MAIN = await built;
  await consoleBuilt;
}
