import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import {
  assertDatabaseName,
  dropPublicSchema,
  ensureDatabase,
  listTables,
  serverMajorVersion,
  withDatabaseName,
} from '../src/database/database-admin';
import { resolveDatabase } from '../src/database/database-connection';
import { buildConfig } from '../src/config/configuration';
import { withAdminClient } from './setup/test-database';

function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (url === undefined)
    throw new Error('TEST_DATABASE_URL is not set: run the tests through jest');
  return url;
}

async function query(url: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('database administration used by restore', () => {
  const name = `saga_test_admin_${randomBytes(4).toString('hex')}`;
  const url = () => withDatabaseName(serverUrl(), name);

  afterAll(async () => {
    await withAdminClient(serverUrl(), (client) =>
      client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    );
  });

  it('creates a missing database once, lists its tables and empties its public schema', async () => {
    expect(await ensureDatabase(url(), name)).toBe(true);
    expect(await ensureDatabase(url(), name)).toBe(false);
    expect(await listTables(url())).toEqual([]);
    await query(url(), 'CREATE TABLE b (id int); CREATE TABLE a (id int)');
    expect(await listTables(url())).toEqual(['a', 'b']);
    await dropPublicSchema(url());
    expect(await listTables(url())).toEqual([]);
    await query(url(), 'CREATE TABLE c (id int)');
    expect(await listTables(url())).toEqual(['c']);
    expect(await serverMajorVersion(url())).toBeGreaterThanOrEqual(15);
  });

  it('refuses to create a database whose name it would not quote', async () => {
    expect(() => assertDatabaseName('saga_test-ok_1')).not.toThrow();
    for (const bad of ['1abc', 'a"b', 'x; DROP DATABASE y', '', 'a'.repeat(64)]) {
      expect(() => assertDatabaseName(bad)).toThrow(/Refusing database name/);
    }
    const bad = 'saga_test bad';
    await expect(ensureDatabase(withDatabaseName(serverUrl(), bad), bad)).rejects.toThrow(
      /Refusing database name "saga_test bad"/,
    );
  });

  it('passes on errors other than a missing database', async () => {
    const wrongPort = withDatabaseName(serverUrl(), name).replace(/:\d+\//, ':1/');
    await expect(ensureDatabase(wrongPort, name)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('resolveDatabase', () => {
  it('uses the configured server as it is, starting nothing', async () => {
    const config = buildConfig({ DATABASE_URL: 'postgres://app@db.example:5432/shop' }).database;
    expect(await resolveDatabase(config)).toEqual({ url: 'postgres://app@db.example:5432/shop' });
  });
});
