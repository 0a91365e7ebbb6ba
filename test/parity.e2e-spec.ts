import type { SagaPattern } from '../src/config/configuration';
import { expectConservation } from './support/db-state';
import { ADMIN, startTestApp, TestApp } from './support/test-app';
import { eventually } from './support/wait';

/** The demo cases of the contract, run in order on fresh demo data. */
const CASES: { name: string; body: Record<string, unknown> }[] = [
  { name: 'a completed purchase', body: { userId: 'user-123', itemId: 'item-sword', quantity: 1 } },
  { name: 'insufficient balance', body: { userId: 'user-456', itemId: 'item-sword', quantity: 1 } },
  {
    name: 'a suspended user',
    body: { userId: 'user-suspended', itemId: 'item-potion', quantity: 1 },
  },
  { name: 'out of stock', body: { userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 } },
  { name: 'a disabled item', body: { userId: 'user-123', itemId: 'item-disabled', quantity: 1 } },
  {
    name: 'over the purchase limit',
    body: { userId: 'user-123', itemId: 'item-sword', quantity: 6 },
  },
  { name: 'an unknown user', body: { userId: 'ghost', itemId: 'item-sword', quantity: 1 } },
  { name: 'an unknown item', body: { userId: 'user-123', itemId: 'no-such-item', quantity: 1 } },
  {
    name: 'a wrong price',
    body: { userId: 'user-123', itemId: 'item-potion', quantity: 2, price: 1 },
  },
  {
    name: 'the right price',
    body: { userId: 'user-123', itemId: 'item-potion', quantity: 2, price: 40 },
  },
];

interface Outcome {
  case: string;
  httpStatus: number;
  status: string;
  errorCode: string | null;
  steps: string[];
  compensations: string[];
  balance: string;
  stock: number | null;
  owned: number;
  log: string | null;
  notification: string | null;
}

async function runCases(t: TestApp, pattern: SagaPattern): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const c of CASES) {
    const res = await t.http.post('/purchase').send({ ...c.body, pattern });
    expect(res.body.pattern).toBe(pattern);
    const saga = (await t.http.get(`/saga/${res.body.transactionId}`).expect(200)).body.saga;
    const id = res.body.transactionId as string;
    const userId = c.body.userId as string;
    const itemId = c.body.itemId as string;
    const q = async (sql: string, params: unknown[]) =>
      (await t.db.query(sql, params)).rows[0] as Record<string, unknown> | undefined;
    outcomes.push({
      case: c.name,
      httpStatus: res.status,
      status: saga.status,
      errorCode: saga.error?.code ?? null,
      steps: saga.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`),
      compensations: saga.compensations.map(
        (s: { step: string; status: string }) => `${s.step}:${s.status}`,
      ),
      balance:
        ((await q('SELECT balance::text AS v FROM users WHERE user_id = $1', [userId]))
          ?.v as string) ?? 'none',
      stock:
        ((await q('SELECT stock AS v FROM items WHERE item_id = $1', [itemId]))?.v as number) ??
        null,
      owned:
        ((
          await q('SELECT quantity AS v FROM user_inventory WHERE user_id = $1 AND item_id = $2', [
            userId,
            itemId,
          ])
        )?.v as number) ?? 0,
      log:
        ((await q('SELECT status AS v FROM transaction_logs WHERE transaction_id = $1', [id]))
          ?.v as string) ?? null,
      notification:
        ((await q('SELECT status AS v FROM notifications WHERE transaction_id = $1', [id]))
          ?.v as string) ?? null,
    });
  }
  return outcomes;
}

describe('Both patterns give the same outcome for the same purchases', () => {
  let orchestrated: TestApp;
  let choreographed: TestApp;

  beforeAll(async () => {
    [orchestrated, choreographed] = await Promise.all([startTestApp(), startTestApp()]);
  });

  afterAll(async () => {
    await Promise.all([orchestrated.close(), choreographed.close()]);
  });

  it('same HTTP status, saga status, error code, step and compensation history, and effects', async () => {
    const [a, b] = await Promise.all([
      runCases(orchestrated, 'orchestration'),
      runCases(choreographed, 'choreography'),
    ]);
    expect(b).toEqual(a);
    // and the outcomes are the contract's, not merely equal
    expect(a.map((o) => [o.case, o.httpStatus, o.status, o.errorCode])).toEqual([
      ['a completed purchase', 200, 'completed', null],
      ['insufficient balance', 409, 'failed', 'INSUFFICIENT_BALANCE'],
      ['a suspended user', 409, 'failed', 'USER_NOT_ACTIVE'],
      ['out of stock', 409, 'compensated', 'INSUFFICIENT_STOCK'],
      ['a disabled item', 409, 'compensated', 'ITEM_NOT_AVAILABLE'],
      ['over the purchase limit', 409, 'failed', 'PURCHASE_LIMIT_EXCEEDED'],
      ['an unknown user', 404, 'failed', 'USER_NOT_FOUND'],
      ['an unknown item', 404, 'failed', 'ITEM_NOT_FOUND'],
      ['a wrong price', 409, 'failed', 'PRICE_MISMATCH'],
      ['the right price', 200, 'completed', null],
    ]);
    expect(a[3].compensations).toEqual(['user_validation:success']);
    expect(a[0]).toMatchObject({
      balance: '900.00',
      stock: 49,
      owned: 1,
      log: 'completed',
      // Recorded, not delivered: no channel is configured.
      notification: 'failed',
    });
  });

  it('the choreographed saga raised the contract events through the outbox, all dispatched', async () => {
    const res = await choreographed.http
      .post('/purchase/choreography')
      .send({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 })
      .expect(409);
    const view = await choreographed.http
      .get(`/choreography/transaction/${res.body.transactionId}`)
      .expect(200);
    expect(view.body.found).toBe(true);
    expect(view.body.events.map((e: { eventType: string }) => e.eventType)).toEqual([
      'PurchaseInitiated',
      'UserValidated',
      'ItemGrantFailed',
      'CompensationInitiated',
      'CompensationCompleted',
      'PurchaseFailed',
    ]);
    // Each is marked dispatched once its handlers have run (the marks are written a few times a
    // second, after the answer).
    await eventually(
      async () => {
        const now = await choreographed.http
          .get(`/choreography/transaction/${res.body.transactionId}`)
          .expect(200);
        const events = now.body.events as { dispatched: boolean }[];
        return events.every((e) => e.dispatched) ? true : undefined;
      },
      5000,
      'every event of the saga marked dispatched',
    );
    // each event names the one that caused it
    const events = view.body.events as { eventId: string; causationId: string | null }[];
    expect(events[0].causationId).toBeNull();
    expect(events[1].causationId).toBe(events[0].eventId);
    expect(events[2].causationId).toBe(events[1].eventId);

    const ok = await choreographed.http
      .post('/purchase/choreography')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .expect(200);
    const okView = await choreographed.http
      .get(`/choreography/transaction/${ok.body.transactionId}`)
      .expect(200);
    expect(okView.body.events.map((e: { eventType: string }) => e.eventType)).toEqual([
      'PurchaseInitiated',
      'UserValidated',
      'ItemGranted',
      'LogRecorded',
      'NotificationSent',
      'PurchaseCompleted',
    ]);
    const orchestratedView = await orchestrated.http
      .get(`/choreography/transaction/${ok.body.transactionId}`)
      .expect(404);
    expect(orchestratedView.body).toMatchObject({ found: false, errorCode: 'SAGA_NOT_FOUND' });
  });

  it('choreography read routes answer from the database', async () => {
    const history = await choreographed.http.get('/choreography/user/user-123/history').expect(200);
    expect(history.body).toMatchObject({
      success: true,
      userId: 'user-123',
      patternUsed: 'choreography',
    });
    const counts = await choreographed.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM saga_states WHERE user_id = 'user-123' AND pattern = 'choreography'",
    );
    expect(history.body.transactionCount).toBe(Number(counts.rows[0].n));
    expect(history.body.transactions[0]).toMatchObject({
      status: 'completed',
      stepsCompleted: 4,
      compensationsExecuted: 0,
    });

    const stats = await choreographed.http.get('/choreography/stats').expect(200);
    const total = await choreographed.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM saga_states WHERE pattern = 'choreography'",
    );
    expect(stats.body.statistics.total).toBe(Number(total.rows[0].n));
    expect(stats.body.patternUsed).toBe('choreography');

    const comparison = await choreographed.http.get('/patterns/comparison').expect(200);
    expect(comparison.body.currentMode).toBe('orchestration');
    expect(comparison.body.patterns.choreography.statistics.total).toBe(Number(total.rows[0].n));
    expect(comparison.body.patterns.orchestration.statistics.total).toBe(0);
  });
});

describe('Pattern control', () => {
  let t: TestApp;

  beforeAll(async () => {
    // 120 purchases at once may outlast the default wait on a slow or instrumented run (then 202);
    // what is asserted is how they end, not how fast.
    t = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration', PURCHASE_WAIT_MS: '60000' });
    await t.http
      .post('/admin/users')
      .set(ADMIN)
      .send({ userId: 'rich', name: 'Rich', balance: 100000 })
      .expect(201);
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'gem', name: 'Gem', price: 3, stock: 150 })
      .expect(201);
  });

  afterAll(async () => {
    await t.close();
  });

  it('reading and switching the mode needs the admin token; bad modes are 400', async () => {
    await t.http.get('/config/saga-mode').expect(401);
    await t.http.post('/config/saga-mode').send({ mode: 'choreography' }).expect(401);
    const read = await t.http.get('/config/saga-mode').set(ADMIN).expect(200);
    expect(read.body.config.mode).toBe('orchestration');
    const bad = await t.http
      .post('/config/saga-mode')
      .set(ADMIN)
      .send({ mode: 'bogus' })
      .expect(400);
    expect(bad.body.errorCode).toBe('VALIDATION_FAILED');
  });

  it('new purchases follow the mode; the body and /purchase/choreography override it', async () => {
    const a = await t.http
      .post('/purchase')
      .send({ userId: 'rich', itemId: 'gem', quantity: 1 })
      .expect(200);
    expect(a.body.pattern).toBe('orchestration');
    await t.http.post('/config/saga-mode').set(ADMIN).send({ mode: 'choreography' }).expect(200);
    const b = await t.http
      .post('/purchase')
      .send({ userId: 'rich', itemId: 'gem', quantity: 1 })
      .expect(200);
    expect(b.body.pattern).toBe('choreography');
    const c = await t.http
      .post('/purchase')
      .send({ userId: 'rich', itemId: 'gem', quantity: 1, pattern: 'orchestration' })
      .expect(200);
    expect(c.body.pattern).toBe('orchestration');
    await t.http.post('/config/saga-mode').set(ADMIN).send({ mode: 'orchestration' }).expect(200);
    const d = await t.http
      .post('/purchase/choreography')
      .send({ userId: 'rich', itemId: 'gem', quantity: 1 })
      .expect(200);
    expect(d.body.pattern).toBe('choreography');
    const rows = await t.db.query(
      'SELECT transaction_id, pattern FROM saga_states WHERE transaction_id = ANY($1) ORDER BY created_at',
      [[a.body.transactionId, b.body.transactionId, c.body.transactionId, d.body.transactionId]],
    );
    expect(rows.rows.map((r) => r.pattern)).toEqual([
      'orchestration',
      'choreography',
      'orchestration',
      'choreography',
    ]);
  });

  it('switching while mixed purchases run: every saga ends once, in its own pattern, with nothing applied twice', async () => {
    const waves: Promise<{ status: number; body: { pattern: string; errorCode?: string } }>[] = [];
    for (let wave = 0; wave < 6; wave++) {
      // a wave is in flight while the mode flips under it
      for (let i = 0; i < 20; i++) {
        waves.push(
          t.http
            .post('/purchase')
            .send({ userId: 'rich', itemId: 'gem', quantity: 1 })
            .then((r) => ({ status: r.status, body: r.body })),
        );
      }
      await t.http
        .post('/config/saga-mode')
        .set(ADMIN)
        .send({ mode: wave % 2 === 0 ? 'choreography' : 'orchestration' })
        .expect(200);
    }
    const answers = await Promise.all(waves);
    expect(answers.map((a) => a.status)).toEqual(Array(120).fill(200));
    const patterns = new Set(answers.map((a) => a.body.pattern));
    expect(patterns).toEqual(new Set(['orchestration', 'choreography']));

    // every saga ran each step once, in one pattern: no success row twice
    const doubled = await t.db.query(
      `SELECT transaction_id, step, kind, count(*) FROM saga_step_results WHERE status = 'success'
       GROUP BY transaction_id, step, kind HAVING count(*) > 1`,
    );
    expect(doubled.rows).toEqual([]);
    const open = await t.db.query(
      "SELECT count(*)::int AS n FROM saga_states WHERE status NOT IN ('completed', 'compensated', 'failed')",
    );
    expect(open.rows[0].n).toBe(0);
    await expectConservation(t.db, { balances: { rich: '100000.00' }, stock: { gem: 150 } });
    const stock = await t.db.query<{ stock: number }>(
      "SELECT stock FROM items WHERE item_id = 'gem'",
    );
    expect(stock.rows[0].stock).toBe(150 - 4 - 120);
  });
});

describe('The mode is shared by every instance on one database', () => {
  it('a switch on one instance reaches the other within seconds, and survives a restart', async () => {
    const first = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' });
    const second = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' }, first.database);
    try {
      await first.http
        .post('/config/saga-mode')
        .set(ADMIN)
        .send({ mode: 'choreography' })
        .expect(200);
      await eventually(
        async () => {
          const res = await second.http.get('/config/saga-mode').set(ADMIN).expect(200);
          return res.body.config.mode === 'choreography' ? true : undefined;
        },
        5000,
        'the second instance to follow the switch',
      );
      const bought = await second.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
        .expect(200);
      expect(bought.body.pattern).toBe('choreography');
      await second.stop();
      const restarted = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' }, first.database);
      try {
        const res = await restarted.http.get('/config/saga-mode').set(ADMIN).expect(200);
        expect(res.body.config.mode).toBe('choreography');
      } finally {
        await restarted.stop();
      }
    } finally {
      await first.close();
    }
  });
});
