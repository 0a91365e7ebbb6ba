import { register } from 'prom-client';
import type {
  IntegrityCheckResult,
  IntegrityReport,
} from '../src/modules/integrity/integrity.service';
import { runCli } from './support/cli';
import { ADMIN, startTestApp, TestApp } from './support/test-app';

async function integrity(
  t: TestApp,
  mode: 'full' | 'incremental' = 'full',
): Promise<IntegrityReport> {
  const res = await t.http.get(`/admin/integrity?mode=${mode}`).set(ADMIN).expect(200);
  expect(res.body.mode).toBe(mode);
  return res.body;
}

function check(report: IntegrityReport, name: string): IntegrityCheckResult {
  const found = report.checks.find((c) => c.check === name);
  if (found === undefined) throw new Error(`No check ${name} in the report`);
  return found;
}

/** The gauge's value per check label, as /metrics would expose it. */
async function violationGauge(): Promise<Record<string, number>> {
  const metric = register.getSingleMetric('saga_integrity_violations');
  if (metric === undefined) throw new Error('saga_integrity_violations is not registered');
  const { values } = await metric.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.check), v.value]));
}

describe('integrity verification (admin route, metric, verify command)', () => {
  let t: TestApp;
  let completedSword: string;

  beforeAll(async () => {
    t = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('is admin-only', async () => {
    const res = await t.http.get('/admin/integrity').expect(401);
    expect(res.body.errorCode).toBe('UNAUTHORIZED');
  });

  it('finds nothing after completed, refused and compensated purchases, top-ups and restocks', async () => {
    const sword = await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-sword', quantity: 2 })
      .expect(200);
    completedSword = sword.body.transactionId;
    await t.http
      .post('/purchase/choreography')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .expect(200);
    const refused = await t.http
      .post('/purchase')
      .send({ userId: 'user-456', itemId: 'item-sword', quantity: 1 })
      .expect(409);
    expect(refused.body.status).toBe('failed');
    const compensated = await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 })
      .expect(409);
    expect(compensated.body.status).toBe('compensated');
    await t.http.post('/admin/users/user-456/top-up').set(ADMIN).send({ amount: 25.5 }).expect(200);
    await t.http.patch('/admin/items/item-potion').set(ADMIN).send({ addStock: 10 }).expect(200);
    await t.http
      .post('/admin/users')
      .set(ADMIN)
      .send({ userId: 'user-new', name: 'New', balance: 30 })
      .expect(201);
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'item-new', name: 'New', price: 10, stock: 3 })
      .expect(201);
    await t.http
      .post('/purchase')
      .send({ userId: 'user-new', itemId: 'item-new', quantity: 2 })
      .expect(200);

    // The ledger holds what came from outside the sagas, never refunds or released stock.
    const ledger = await t.db.query(
      `SELECT user_id AS id, credited_total::text AS total FROM users
       WHERE user_id IN ('user-123', 'user-456', 'user-new')
       UNION ALL SELECT item_id, stocked_total::text FROM items
       WHERE item_id IN ('item-potion', 'item-sword', 'item-new') ORDER BY id`,
    );
    expect(ledger.rows).toEqual([
      { id: 'item-new', total: '3' },
      { id: 'item-potion', total: '110' },
      { id: 'item-sword', total: '50' },
      { id: 'user-123', total: '1000.00' },
      { id: 'user-456', total: '75.50' },
      { id: 'user-new', total: '30.00' },
    ]);

    const report = await integrity(t);
    expect(report).toMatchObject({ clean: true, violations: 0 });
    expect(report.checks.map((c) => [c.check, c.violations])).toEqual([
      ['user_balance', 0],
      ['item_stock', 0],
      ['completed_log', 0],
      ['inventory', 0],
      ['stuck_saga', 0],
      ['compensation_failed', 0],
      ['outbox_backlog', 0],
      ['negative_amount', 0],
      ['rollups', 0],
    ]);
    expect(Object.values(await violationGauge()).every((v) => v === 0)).toBe(true);
    const lastRun = register.getSingleMetric('saga_integrity_last_run_timestamp_seconds');
    expect((await lastRun?.get())?.values[0]?.value).toBeGreaterThan(0);

    const cli = await runCli('cli/verify.js', [], { DATABASE_URL: t.databaseUrl });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toMatch(/clean \(9 checks/);
    expect(cli.code).toBe(0);
  });

  it('reports corrupted data with the ids involved: route, metric and command', async () => {
    await t.db.query(`UPDATE users SET balance = balance + 5 WHERE user_id = 'user-456'`);
    await t.db.query('DELETE FROM transaction_logs WHERE transaction_id = $1', [completedSword]);
    await t.db.query(
      `INSERT INTO user_inventory (user_id, item_id, quantity) VALUES ('user-456', 'item-potion', 3)`,
    );
    await t.db.query(`UPDATE items SET stock = stock + 2 WHERE item_id = 'item-sword'`);
    // A saga whose driver holds a lease but never finishes, and an event nobody delivers.
    await t.db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price,
         lease_owner, lease_expires_at, created_at)
       VALUES ('TXN_STUCK_test', 'orchestration', 'in_progress', 'user-new', 'item-sword', 1, 100,
         'elsewhere', now() + interval '1 hour', now() - interval '1 hour'),
              ('TXN_HALF_UNDONE_test', 'orchestration', 'failed', 'user-new', 'item-sword', 1, 100,
         NULL, NULL, now() - interval '1 hour')`,
    );
    await t.db.query(
      `UPDATE saga_states SET error_code = 'COMPENSATION_FAILED', error_step = 'user_validation'
       WHERE transaction_id = 'TXN_HALF_UNDONE_test'`,
    );
    await t.db.query(
      `WITH event AS (
         INSERT INTO outbox_events (event_id, event_type, aggregate_id, payload, created_at)
         VALUES (gen_random_uuid(), 'UserValidated', 'TXN_STUCK_test', '{}',
           now() - interval '10 minutes')
         RETURNING id
       )
       INSERT INTO outbox_pending (id, event_ids, lease_owner, lease_expires_at)
       SELECT id, ARRAY[id], 'elsewhere', now() + interval '1 hour' FROM event`,
    );

    const report = await integrity(t);
    expect(report.clean).toBe(false);
    expect(check(report, 'user_balance').listed).toEqual([
      expect.objectContaining({ userId: 'user-456', expected: 75.5, actual: 80.5 }),
    ]);
    expect(check(report, 'completed_log').listed).toEqual([
      expect.objectContaining({ transactionId: completedSword, expected: 1, actual: 0 }),
    ]);
    expect(check(report, 'inventory').listed).toEqual([
      expect.objectContaining({
        userId: 'user-456',
        itemId: 'item-potion',
        expected: 0,
        actual: 3,
      }),
    ]);
    expect(check(report, 'stuck_saga').listed).toEqual([
      expect.objectContaining({ transactionId: 'TXN_STUCK_test', actual: 'in_progress' }),
    ]);
    expect(check(report, 'compensation_failed').listed).toEqual([
      expect.objectContaining({ transactionId: 'TXN_HALF_UNDONE_test', userId: 'user-new' }),
    ]);
    expect(check(report, 'outbox_backlog').listed).toEqual([
      expect.objectContaining({ transactionId: 'TXN_STUCK_test', actual: 'pending' }),
    ]);
    expect(check(report, 'item_stock').listed).toEqual([
      expect.objectContaining({ itemId: 'item-sword', expected: 48, actual: 50 }),
    ]);
    expect(check(report, 'negative_amount').violations).toBe(0);
    expect(report.violations).toBe(7);

    expect(await violationGauge()).toMatchObject({
      user_balance: 1,
      completed_log: 1,
      inventory: 1,
      stuck_saga: 1,
      compensation_failed: 1,
      outbox_backlog: 1,
      item_stock: 1,
      negative_amount: 0,
    });

    const cli = await runCli('cli/verify.js', [], { DATABASE_URL: t.databaseUrl });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/7 violation\(s\)/);
    expect(cli.stdout).toMatch(/User user-456: balance 80\.50, expected 75\.50/);
    expect(cli.stdout).toContain(completedSword);
    expect(cli.stdout).toContain('TXN_STUCK_test');

    const json = await runCli('cli/verify.js', ['--json'], { DATABASE_URL: t.databaseUrl });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ clean: false, violations: 7 });
  });

  it('refuses an unknown mode', async () => {
    const res = await t.http.get('/admin/integrity?mode=sometimes').set(ADMIN).expect(400);
    expect(res.body.errorCode).toBe('VALIDATION_FAILED');
  });

  it('exits 2 when it cannot run', async () => {
    const cli = await runCli('cli/verify.js', ['--bogus'], { DATABASE_URL: t.databaseUrl });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/Unknown option --bogus/);
  });
});
