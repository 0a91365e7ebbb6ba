import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { withAdminClient, withDatabase } from './setup/test-database';
import { runCli } from './support/cli';
import { ADMIN, startTestApp, TestApp } from './support/test-app';

/** Everything a restore must bring back, read the same way from both databases. */
async function snapshot(url: string): Promise<Record<string, unknown[]>> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const read = async (sql: string) => (await db.query(sql)).rows;
    return {
      users: await read(
        'SELECT user_id, balance::text, credited_total::text, status FROM users ORDER BY user_id',
      ),
      items: await read(
        'SELECT item_id, stock, stocked_total, price::text FROM items ORDER BY item_id',
      ),
      inventory: await read('SELECT user_id, item_id, quantity FROM user_inventory ORDER BY 1, 2'),
      sagas: await read(
        `SELECT transaction_id, pattern, status, user_id, item_id, quantity, price::text,
                error_code, created_at, completed_at FROM saga_states ORDER BY transaction_id`,
      ),
      steps: await read(
        `SELECT id, transaction_id, step, kind, status, data, executed_at
         FROM saga_step_results ORDER BY id`,
      ),
      logs: await read('SELECT transaction_id, status FROM transaction_logs ORDER BY 1'),
      migrations: await read('SELECT name FROM migrations ORDER BY id'),
    };
  } finally {
    await db.end();
  }
}

describe('backup and restore (db:backup, db:restore)', () => {
  let t: TestApp;
  let restoredUrl: string;
  const restoredName = `saga_test_restored_${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'saga-backup-'));

  beforeAll(async () => {
    t = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' });
    restoredUrl = withDatabase(t.databaseUrl, restoredName);
  });

  afterAll(async () => {
    await t.close();
    await withAdminClient(withDatabase(t.databaseUrl, 'postgres'), (client) =>
      client.query(`DROP DATABASE IF EXISTS ${restoredName} WITH (FORCE)`),
    );
  });

  it('brings back the same balances, stock, sagas and steps into a fresh database, and verifies clean', async () => {
    await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-sword', quantity: 3 })
      .expect(200);
    await t.http
      .post('/purchase/choreography')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 2 })
      .expect(200);
    await t.http
      .post('/purchase')
      .send({ userId: 'user-456', itemId: 'item-sword', quantity: 1 })
      .expect(409);
    await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 })
      .expect(409);
    await t.http.post('/admin/users/user-456/top-up').set(ADMIN).send({ amount: 10 }).expect(200);
    await t.stop();
    const before = await snapshot(t.databaseUrl);
    expect(before.sagas).toHaveLength(4);
    expect(before.steps.length).toBeGreaterThan(8);

    const file = join(dir, 'nested', 'saga.dump');
    const backup = await runCli('cli/backup.js', ['--out', file], {
      DATABASE_URL: t.databaseUrl,
    });
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^Backed up database "saga_test_\w+" on .* to .*saga\.dump \(/);
    expect(existsSync(file)).toBe(true);
    expect(readdirSync(join(dir, 'nested'))).toEqual(['saga.dump']);

    await t.database.drop();

    const restore = await runCli('cli/restore.js', [file], { DATABASE_URL: restoredUrl });
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain(`into the new database "${restoredName}"`);
    expect(await snapshot(restoredUrl)).toEqual(before);

    const verify = await runCli('cli/verify.js', [], { DATABASE_URL: restoredUrl });
    expect(verify.stdout).toMatch(/clean/);
    expect(verify.code).toBe(0);

    // The service runs on the restored database as it did before.
    const revived = await startTestApp({}, { url: restoredUrl, drop: () => Promise.resolve() });
    try {
      const profile = await revived.http.get('/users/user-123').expect(200);
      expect(profile.body).toMatchObject({ balance: 660, inventory: expect.any(Array) });
      await revived.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
        .expect(200);
    } finally {
      await revived.stop();
    }
  });

  it('refuses a database that is not empty unless forced, then replaces its content', async () => {
    const file = join(dir, 'nested', 'saga.dump');
    const refused = await runCli('cli/restore.js', [file], { DATABASE_URL: restoredUrl });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not empty .*pass --force/s);
    const afterPurchase = await snapshot(restoredUrl);
    expect(afterPurchase.sagas).toHaveLength(5);

    const forced = await runCli('cli/restore.js', [file, '--force'], {
      DATABASE_URL: restoredUrl,
    });
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('into the cleaned database');
    expect((await snapshot(restoredUrl)).sagas).toHaveLength(4);
  });

  it('refuses a file that is not a backup, and says what is wrong', async () => {
    const result = await runCli('cli/restore.js', [__filename], { DATABASE_URL: restoredUrl });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/not a pg_dump custom-format archive/);
  });

  it('says how to install pg_dump when it cannot find it', async () => {
    const result = await runCli('cli/backup.js', [], {
      DATABASE_URL: restoredUrl,
      PATH: '/nonexistent',
      PG_BIN_DIR: dir,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/pg_dump was not found .*postgresql-client-15/);
  });

  it('refuses a pg_dump older than the server before dumping anything', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'old-pg-'));
    writeFileSync(join(bin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n');
    chmodSync(join(bin, 'pg_dump'), 0o755);
    const out = join(dir, 'old.dump');
    const result = await runCli('cli/backup.js', ['--out', out], {
      DATABASE_URL: restoredUrl,
      PG_BIN_DIR: bin,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/pg_dump 9 is older than the PostgreSQL 1\d server/);
    expect(existsSync(out)).toBe(false);
  });
});
