import { SAGA_PATTERNS } from '../src/config/configuration';
import { RetentionService } from '../src/modules/retention/retention.service';
import { SagaRollupsJob } from '../src/modules/saga/read-model/saga-rollups.job';
import { SagaRollupsRepository } from '../src/modules/saga/read-model/saga-rollups.repository';
import { ADMIN, startTestApp, TestApp } from './support/test-app';

/**
 * The statistics come from rollups kept as sagas change (triggers, folded by a job), never from
 * an aggregate over every saga: after a mixed load (both patterns, refusals, compensations,
 * compensations that gave up and their re-drives, failed notifications, retention purges) they
 * match a full recount exactly, before and after the deltas are folded.
 */
interface Recount {
  pattern: string;
  status: string;
  sagas: number;
  timed: number;
  duration_ms: string;
}

const STATUS_FIELDS: Record<string, string> = {
  pending: 'pending',
  in_progress: 'inProgress',
  completed: 'completed',
  failed: 'failed',
  compensating: 'compensating',
  compensated: 'compensated',
};

function statisticsOf(rows: readonly Recount[]): Record<string, number> {
  const stats: Record<string, number> = { total: 0 };
  for (const field of Object.values(STATUS_FIELDS)) stats[field] = 0;
  for (const row of rows) {
    stats[STATUS_FIELDS[row.status]] += row.sagas;
    stats.total += row.sagas;
  }
  return stats;
}

describe('Statistics from the rollups', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      // Folded only when the test says so, to read them both ways.
      STATS_ROLLUP_MS: '600000',
      SAGA_FAULTS: 'fail:compensation:user_validation:0.5,fail:notification:0.5',
      STEP_MAX_ATTEMPTS: '1',
      STEP_RETRY_BASE_MS: '0',
      RETENTION_CRON: 'off',
      RETENTION_SAGAS: '1h',
      VERIFY_CRON: 'off',
    });
  });

  afterAll(async () => {
    await t.close();
  });

  async function recount(): Promise<Recount[]> {
    const { rows } = await t.db.query<Recount>(
      `SELECT pattern, status, count(*)::int AS sagas,
              count(COALESCE(completed_at, failed_at))::int AS timed,
              COALESCE(sum(extract(epoch FROM COALESCE(completed_at, failed_at) - created_at) * 1000), 0)::text
                AS duration_ms
       FROM saga_states GROUP BY pattern, status`,
    );
    return rows;
  }

  async function expectStatisticsToMatchRecount(): Promise<void> {
    const rows = await recount();
    const all = statisticsOf(rows);
    const mine = (pattern: string) => rows.filter((row) => row.pattern === pattern);

    const plain = await t.http.get('/sagas/stats').expect(200);
    expect(plain.body.statistics).toEqual(all);
    expect(Number.isNaN(Date.parse(plain.body.asOf))).toBe(false);

    const admin = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
    expect(admin.body.statistics).toEqual(all);
    for (const pattern of SAGA_PATTERNS) {
      expect(admin.body.byPattern[pattern]).toEqual(statisticsOf(mine(pattern)));
    }

    const comparison = await t.http.get('/patterns/comparison').expect(200);
    for (const pattern of SAGA_PATTERNS) {
      const timed = mine(pattern).reduce((sum, row) => sum + row.timed, 0);
      const durationMs = mine(pattern).reduce((sum, row) => sum + Number(row.duration_ms), 0);
      expect(comparison.body.patterns[pattern].statistics).toEqual({
        ...statisticsOf(mine(pattern)),
        averageDurationMs: timed === 0 ? null : Math.round(durationMs / timed),
      });
    }
    const choreography = await t.http.get('/choreography/stats').expect(200);
    expect(choreography.body.statistics).toEqual(comparison.body.patterns.choreography.statistics);
  }

  async function buy(body: Record<string, unknown>): Promise<{ status: string; id: string }> {
    const res = await t.http.post('/purchase').send(body);
    // A compensation that gave up answers 503 COMPENSATION_FAILED; nothing else may fail.
    if (res.status >= 500) expect(res.body.error).toMatchObject({ code: 'COMPENSATION_FAILED' });
    return { status: res.body.status as string, id: res.body.transactionId as string };
  }

  it('match a full recount after a mixed load, folded or not, and after purges', async () => {
    await t.http
      .post('/admin/users/user-123/top-up')
      .set(ADMIN)
      .send({ amount: 100_000 })
      .expect(200);
    await t.http.patch('/admin/items/item-potion').set(ADMIN).send({ addStock: 1000 }).expect(200);
    const outcomes = await Promise.all(
      SAGA_PATTERNS.flatMap((pattern) => [
        ...Array.from({ length: 12 }, () =>
          buy({ userId: 'user-123', itemId: 'item-potion', quantity: 1, pattern }),
        ),
        ...Array.from({ length: 6 }, () =>
          buy({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1, pattern }),
        ),
        buy({ userId: 'user-456', itemId: 'item-sword', quantity: 1, pattern }),
        buy({ userId: 'user-suspended', itemId: 'item-potion', quantity: 1, pattern }),
        buy({ userId: 'user-123', itemId: 'item-disabled', quantity: 1, pattern }),
      ]),
    );
    const statuses = new Set(outcomes.map((o) => o.status));
    expect(statuses).toEqual(new Set(['completed', 'compensated', 'failed']));
    const { rows: gaveUp } = await t.db.query<{ transaction_id: string }>(
      "SELECT transaction_id FROM saga_states WHERE error_code = 'COMPENSATION_FAILED'",
    );
    // Half the compensations of user_validation give up (12 of them): some did.
    expect(gaveUp.length).toBeGreaterThan(0);
    await expectStatisticsToMatchRecount();

    // Re-drives: failed → compensating → compensated (or failed again).
    for (const { transaction_id } of gaveUp) {
      const res = await t.http.post(`/compensate/${transaction_id}`).set(ADMIN);
      expect(res.status).toBeLessThan(500);
    }
    await expectStatisticsToMatchRecount();

    const folded = await t.app.get(SagaRollupsJob).fold();
    expect(folded).toBe(true);
    const { rows: left } = await t.db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM saga_count_deltas) + (SELECT count(*) FROM saga_finish_deltas)
              + (SELECT count(*) FROM saga_ledger_deltas) AS n`,
    );
    expect(Number(left[0].n)).toBe(0);
    await expectStatisticsToMatchRecount();
    // The rows folds leave dead are vacuumed by the service, autovacuum or not.
    await t.app.get(SagaRollupsRepository).vacuum();
    const { rows: vacuumed } = await t.db.query<{ relname: string }>(
      `SELECT relname FROM pg_stat_user_tables
       WHERE relname IN ('saga_count_deltas', 'saga_finish_deltas', 'saga_ledger_deltas',
                         'saga_finish_slots', 'saga_status_totals', 'saga_item_totals')
         AND last_vacuum IS NOT NULL ORDER BY relname`,
    );
    expect(vacuumed.map((r) => r.relname)).toEqual([
      'saga_count_deltas',
      'saga_finish_deltas',
      'saga_finish_slots',
      'saga_item_totals',
      'saga_ledger_deltas',
      'saga_status_totals',
    ]);

    // Retention removes half of the settled sagas: the counts go down with them.
    await t.db.query(
      `UPDATE saga_states SET created_at = created_at - interval '2 hours',
         updated_at = updated_at - interval '2 hours', completed_at = completed_at - interval '2 hours',
         failed_at = failed_at - interval '2 hours'
       WHERE transaction_id IN (SELECT transaction_id FROM saga_states
                                WHERE status IN ('completed', 'compensated')
                                ORDER BY transaction_id LIMIT 15)`,
    );
    const outcome = await t.app.get(RetentionService).run('test');
    expect(outcome).toMatchObject({ kind: 'ran' });
    const after = await recount();
    expect(statisticsOf(after).total).toBeLessThan(outcomes.length);
    await expectStatisticsToMatchRecount();
    expect(await t.app.get(SagaRollupsJob).fold()).toBe(true);
    await expectStatisticsToMatchRecount();
  });

  it('count finishes per slot for throughput and percentiles, whatever the sagas kept', async () => {
    const before = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
    await buy({ userId: 'user-123', itemId: 'item-potion', quantity: 1 });
    const after = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
    expect(after.body.latency.samples).toBe(before.body.latency.samples + 1);
    expect(after.body.latency.p50Ms).toBeGreaterThan(0);
    expect(after.body.latency.p95Ms).toBeGreaterThanOrEqual(after.body.latency.p50Ms);
    expect(after.body.throughput.finished).toBe(before.body.throughput.finished + 1);
  });
});
