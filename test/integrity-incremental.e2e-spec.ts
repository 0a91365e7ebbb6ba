import { Client } from 'pg';
import { SagaRollupsJob } from '../src/modules/saga/read-model/saga-rollups.job';
import type { IntegrityReport } from '../src/modules/integrity/integrity.service';
import { runCli } from './support/cli';
import { ADMIN, startTestApp, TestApp } from './support/test-app';

/**
 * The incremental reconciliation checks what the ledger changes since its checkpoint touched, in
 * slices, and the sagas finished since its last run; the full one checks everything and recounts
 * the rollups it relies on.
 */
describe('incremental integrity', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      SAGA_PATTERN_MODE: 'orchestration',
      VERIFY_SLICE: '2',
      VERIFY_CRON: 'off',
      VERIFY_FULL_CRON: 'off',
      STATS_ROLLUP_MS: '600000',
    });
  });

  afterAll(async () => {
    await t.close();
  });

  async function verify(mode: 'full' | 'incremental'): Promise<IntegrityReport> {
    // What the purchases recorded reaches the ledger's totals.
    await t.app.get(SagaRollupsJob).fold();
    // Incremental is what the route runs unless asked for a full run.
    const res = await t.http
      .get(mode === 'full' ? '/admin/integrity?mode=full' : '/admin/integrity')
      .set(ADMIN)
      .expect(200);
    expect(res.body.mode).toBe(mode);
    return res.body as IntegrityReport;
  }

  const violations = (report: IntegrityReport, name: string) =>
    report.checks.find((c) => c.check === name) ?? { violations: -1, listed: [] };

  async function buy(userId: string, itemId: string): Promise<string> {
    const res = await t.http.post('/purchase').send({ userId, itemId, quantity: 1 }).expect(200);
    return res.body.transactionId as string;
  }

  it('checks what changed since its checkpoint, slice by slice, and moves the checkpoint', async () => {
    const full = await verify('full');
    expect(full).toMatchObject({ mode: 'full', clean: true });
    const unchanged = await verify('incremental');
    expect(unchanged).toMatchObject({ mode: 'incremental', clean: true });
    const seq = full.progress.to.ledgerSeq;
    expect(unchanged.progress).toMatchObject({
      from: { ledgerSeq: seq },
      to: { ledgerSeq: seq },
      slices: 1,
      changesChecked: 0,
      changesLeft: 0,
    });

    await buy('user-123', 'item-sword');
    await buy('user-123', 'item-potion');
    await buy('user-456', 'item-potion');
    const changed = await verify('incremental');
    expect(changed.clean).toBe(true);
    // Three (user, item) pairs changed, two per slice.
    expect(changed.progress).toMatchObject({ slices: 2, changesChecked: 3, changesLeft: 0 });
    expect(changed.progress.sagasChecked).toBeGreaterThanOrEqual(3);
    expect(BigInt(changed.progress.to.ledgerSeq)).toBeGreaterThan(
      BigInt(changed.progress.from.ledgerSeq),
    );
    const again = await verify('incremental');
    expect(again.progress).toMatchObject({
      changesChecked: 0,
      from: { ledgerSeq: changed.progress.to.ledgerSeq },
    });
  });

  it('finds a corruption that a change since the checkpoint touches; the full run finds the rest', async () => {
    await t.db.query(`UPDATE users SET balance = balance + 5 WHERE user_id = 'user-456'`);
    await t.db.query(`UPDATE items SET stock = stock + 1 WHERE item_id = 'item-sword'`);
    // Nothing the checkpoint has not seen touches them yet.
    expect((await verify('incremental')).clean).toBe(true);

    const bought = await buy('user-456', 'item-potion');
    await t.db.query('DELETE FROM transaction_logs WHERE transaction_id = $1', [bought]);
    const incremental = await verify('incremental');
    expect(incremental.clean).toBe(false);
    expect(violations(incremental, 'user_balance').listed).toEqual([
      expect.objectContaining({ userId: 'user-456' }),
    ]);
    expect(violations(incremental, 'completed_log').listed).toEqual([
      expect.objectContaining({ transactionId: bought, expected: 1, actual: 0 }),
    ]);
    expect(violations(incremental, 'item_stock').violations).toBe(0);

    const full = await verify('full');
    expect(violations(full, 'user_balance').violations).toBe(1);
    expect(violations(full, 'completed_log').violations).toBe(1);
    expect(violations(full, 'item_stock').listed).toEqual([
      expect.objectContaining({ itemId: 'item-sword' }),
    ]);
    expect(violations(full, 'rollups').violations).toBe(0);
  });

  it('leaves the changes to the instance checking them now, and says so', async () => {
    const holder = new Client({ connectionString: t.databaseUrl });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      // The key incremental slices take (IntegrityRepository).
      await holder.query('SELECT pg_advisory_xact_lock(7243901118302)');
      const busy = await verify('incremental');
      expect(busy.progress).toMatchObject({ busy: true, slices: 0, changesChecked: 0 });
      await holder.query('COMMIT');
      const free = await verify('incremental');
      expect(free.progress).toMatchObject({ busy: false, slices: 1 });
    } finally {
      await holder.end();
    }
  });

  it("checks a pair's inventory against its ledger, folded or not yet", async () => {
    await t.db.query(
      `UPDATE user_inventory SET quantity = quantity + 1
       WHERE user_id = 'user-123' AND item_id = 'item-potion'`,
    );
    await buy('user-123', 'item-potion');
    // Not folded yet (this suite folds by hand): the pair is known from its delta alone.
    const { rows } = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM saga_ledger_deltas
       WHERE user_id = 'user-123' AND item_id = 'item-potion'`,
    );
    expect(rows[0].n).toBe(1);
    const unfolded = await t.http.get('/admin/integrity').set(ADMIN).expect(200);
    const granted = (report: IntegrityReport) => violations(report, 'inventory').listed;
    expect(granted(unfolded.body as IntegrityReport)).toEqual([
      expect.objectContaining({ userId: 'user-123', itemId: 'item-potion' }),
    ]);
    // Folded: the same finding, the quantity read with the change.
    await t.db.query(`UPDATE integrity_checkpoint SET ledger_seq = 0`);
    expect(granted(await verify('incremental'))).toEqual(granted(unfolded.body as IntegrityReport));
    await t.db.query(
      `UPDATE user_inventory SET quantity = quantity - 1
       WHERE user_id = 'user-123' AND item_id = 'item-potion'`,
    );
  });

  it('recounts the rollups in a full run and names any drift, route and command', async () => {
    await t.db.query(
      `UPDATE saga_ledger_totals SET completed_total = completed_total + 1
       WHERE user_id = 'user-123' AND item_id = 'item-sword'`,
    );
    await t.db.query(
      `UPDATE saga_status_totals SET sagas = sagas + 1
       WHERE pattern = 'orchestration' AND status = 'completed'`,
    );
    await t.db.query(
      `UPDATE saga_item_totals SET completed_quantity = completed_quantity + 2
       WHERE item_id = 'item-potion'`,
    );
    await t.db.query(
      `UPDATE saga_user_totals SET purged_total = purged_total + 3 WHERE user_id = 'user-456'`,
    );
    const full = await verify('full');
    expect(violations(full, 'rollups').listed).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(
          /^Rollup item item-potion: \d+ granted, purged 0, in all \d+/,
        ),
      }),
      expect.objectContaining({
        message: expect.stringMatching(/^Rollup ledger user-123\/item-sword: 1 sagas, spent 101/),
      }),
      expect.objectContaining({
        message: expect.stringMatching(/^Rollup status orchestration\/completed: /),
      }),
      // The drifted pair's user, against the pair totals it is recounted from.
      expect.objectContaining({
        message: expect.stringMatching(/^Rollup user user-123: [\d.]+ spent, purged 0\.00/),
      }),
      expect.objectContaining({
        message: expect.stringMatching(
          /^Rollup user user-456: [\d.]+ spent, purged 3\.00, in all [\d.]+, a recount gives [\d.]+ spent, purged 0, in all/,
        ),
      }),
    ]);
    // The statistics read the drift too: they are only as good as the rollups.
    const stats = await t.http.get('/sagas/stats').expect(200);
    const { rows } = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM saga_states WHERE status = 'completed'",
    );
    expect(stats.body.statistics.completed).toBe(rows[0].n + 1);

    const cli = await runCli('cli/verify.js', [], { DATABASE_URL: t.databaseUrl });
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(/FAIL rollups/);
    const incremental = await runCli('cli/verify.js', ['--incremental', '--json'], {
      DATABASE_URL: t.databaseUrl,
    });
    expect(JSON.parse(incremental.stdout)).toMatchObject({ mode: 'incremental' });

    // A user's balance and an item's stock are checked against their one row of totals: a change
    // to the user or the item brings the drift there to light.
    await t.http.post('/admin/users/user-456/top-up').set(ADMIN).send({ amount: 100 }).expect(200);
    await buy('user-456', 'item-potion');
    const incrementalAfter = await verify('incremental');
    expect(violations(incrementalAfter, 'item_stock').listed).toEqual([
      expect.objectContaining({ itemId: 'item-potion' }),
    ]);
    expect(violations(incrementalAfter, 'user_balance').listed).toEqual([
      expect.objectContaining({ userId: 'user-456' }),
    ]);
  });

  it('reads the change log in number order, checks a pair changed again after its slice against its totals, and forgets what runs before the last checked', async () => {
    await verify('incremental');
    // The next change numbers cross a power of ten: the slices must follow them as numbers.
    await t.db.query(
      `SELECT setval('saga_ledger_change_seq',
                     power(10, length(last_value::text) + 1)::bigint - 2)
       FROM saga_ledger_change_seq`,
    );
    // Two pairs in one fold (numbered in key order), then the first one again in the next.
    await buy('user-123', 'item-sword');
    await buy('user-456', 'item-potion');
    await t.app.get(SagaRollupsJob).fold();
    await buy('user-123', 'item-sword');
    await t.db.query(
      `UPDATE user_inventory SET quantity = quantity + 1
       WHERE user_id = 'user-456' AND item_id = 'item-potion'`,
    );
    try {
      const run = await verify('incremental');
      const { rows } = await t.db.query<{ seq: string; user_id: string }>(
        'SELECT c.seq::text AS seq, c.user_id FROM saga_ledger_changes c WHERE c.seq > $1 ORDER BY c.seq',
        [run.progress.from.ledgerSeq],
      );
      const digits = rows.map((r) => r.seq.length);
      expect(digits).toEqual([digits[0], digits[0] + 1, digits[0] + 1]);
      expect(rows.map((r) => r.user_id)).toEqual(['user-123', 'user-456', 'user-123']);
      // Two slices of two: the first ends before the sword's second change, so its quantity there
      // is read from the totals (the log's would be one short); the potion is found in it.
      expect(run.progress).toMatchObject({
        slices: 2,
        changesChecked: 3,
        changesLeft: 0,
        to: { ledgerSeq: rows[2].seq },
      });
      const [found, ...others] = violations(run, 'inventory').listed;
      expect(others).toEqual([]);
      expect(found).toMatchObject({ userId: 'user-456', itemId: 'item-potion' });
      expect(Number(found.actual)).toBe(Number(found.expected) + 1);
      // The changes the runs before this one checked are gone.
      const { rows: older } = await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM saga_ledger_changes WHERE seq <= $1',
        [run.progress.from.ledgerSeq],
      );
      expect(older[0].n).toBe(0);
    } finally {
      await t.db.query(
        `UPDATE user_inventory SET quantity = quantity - 1
         WHERE user_id = 'user-456' AND item_id = 'item-potion'`,
      );
    }
    // A run with nothing new keeps the last run's changes: set back, it checks them again.
    const last = await verify('incremental');
    expect(last.progress.changesChecked).toBe(0);
    await t.db.query('UPDATE integrity_checkpoint SET ledger_seq = $1::bigint - 3', [
      last.progress.to.ledgerSeq,
    ]);
    const again = await verify('incremental');
    expect(again.progress.changesChecked).toBe(3);
    expect(violations(again, 'inventory').violations).toBe(0);
  });
});
