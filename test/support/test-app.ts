import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { createApp } from '../../src/app.factory';
import { buildConfig } from '../../src/config/configuration';
import {
  assertTestDatabase,
  databaseName,
  templateDatabase,
  withAdminClient,
  withDatabase,
} from '../setup/test-database';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
export const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (url === undefined)
    throw new Error('TEST_DATABASE_URL is not set: run the tests through jest');
  return url;
}

/** A fresh database for one test file, cloned from the migrated template. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const base = serverUrl();
  const name = `saga_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient(base, (client) =>
    client.query(`CREATE DATABASE ${name} TEMPLATE ${templateDatabase()}`),
  );
  const url = withDatabase(base, name);
  assertTestDatabase(url);
  return {
    url,
    drop: () =>
      withAdminClient(base, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}

/**
 * Opens or cuts a test database for everyone: when cut, new sessions are refused and (unless
 * `keepSessions`) existing ones killed, as if the server were unreachable.
 */
export async function setConnectable(
  url: string,
  connectable: boolean,
  { keepSessions = false } = {},
): Promise<void> {
  const name = databaseName(url);
  assertTestDatabase(url);
  await withAdminClient(serverUrl(), async (client) => {
    await client.query(
      `ALTER DATABASE ${name} ALLOW_CONNECTIONS ${connectable ? 'true' : 'false'}`,
    );
    if (!connectable && !keepSessions) {
      await client.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1',
        [name],
      );
    }
  });
}

export interface TestApp {
  app: NestFastifyApplication;
  http: TestAgent;
  /** Direct SQL on the test database, for arranging and asserting. */
  db: Client;
  databaseUrl: string;
  database: TestDatabase;
  /** Stops the app and drops its database. */
  close(): Promise<void>;
  /** Stops the app and keeps its database. */
  stop(): Promise<void>;
}

/**
 * The real application on its own clean database, with the demo data loaded; or, given
 * `database`, on that one (to restart a service over the data an earlier one left).
 */
export async function startTestApp(
  env: Record<string, string> = {},
  existing?: TestDatabase,
): Promise<TestApp> {
  const database = existing ?? (await createTestDatabase());
  const config = buildConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN,
    SEED_DEMO_DATA: 'true',
    // Suites send many requests from one address: only the rate limit suite sets budgets, and
    // only its hold test holds refusals back.
    RATE_LIMIT_REPORTS: 'off',
    RATE_LIMIT_PUBLIC: 'off',
    RATE_LIMIT_HOLD: 'off',
    ...env,
    DATABASE_URL: database.url,
  });
  const app = await createApp(config);
  const db = new Client({ connectionString: database.url });
  // A test that cuts the database off kills this session too; that is expected.
  db.on('error', () => undefined);
  await db.connect();
  return {
    app,
    http: request(app.getHttpServer()),
    db,
    databaseUrl: database.url,
    database,
    close: async () => {
      await db.end().catch(() => undefined);
      await app.close();
      await database.drop();
    },
    stop: async () => {
      await db.end().catch(() => undefined);
      await app.close();
    },
  };
}
