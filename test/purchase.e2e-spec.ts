import { balanceOf, countRows, expectConservation, ownedOf, stockOf } from './support/db-state';
import { TransactionHost } from '../src/database/transaction-host';
import { ItemsService } from '../src/modules/items/items.service';
import { UsersService } from '../src/modules/users/users.service';
import { ADMIN, startTestApp, TestApp } from './support/test-app';
import { eventually } from './support/wait';

const buy = (t: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  t.http.post('/purchase').set(headers).send(body);

describe('POST /purchase (orchestration) on the demo data', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('user-123 buys a sword: 200, debited, stock taken, inventory, log and notification', async () => {
    const res = await buy(t, { userId: 'user-123', itemId: 'item-sword', quantity: 1 }).expect(200);
    expect(res.body).toMatchObject({
      success: true,
      status: 'completed',
      pattern: 'orchestration',
      completedSteps: ['user_validation', 'item_grant', 'log_record', 'notification'],
      data: { userId: 'user-123', itemId: 'item-sword', quantity: 1, price: 100 },
    });
    expect(res.body.transactionId).toMatch(/^TXN_/);
    expect(res.body.data.logId).toMatch(/^LOG_/);
    expect(res.body.data.notificationId).toMatch(/^NOTIF_/);
    expect(res.body.error).toBeUndefined();

    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
    expect(await ownedOf(t.db, 'user-123', 'item-sword')).toBe(1);
    const log = await t.db.query(
      'SELECT status, price::text FROM transaction_logs WHERE transaction_id = $1',
      [res.body.transactionId],
    );
    expect(log.rows).toEqual([{ status: 'completed', price: '100.00' }]);
    // No channel is configured: the notification is recorded, not delivered.
    const notification = await t.db.query(
      'SELECT status, channels, error FROM notifications WHERE transaction_id = $1',
      [res.body.transactionId],
    );
    expect(notification.rows).toEqual([
      { status: 'failed', channels: [], error: 'not delivered: no channel configured' },
    ]);

    const saga = await t.http.get(`/saga/${res.body.transactionId}`).expect(200);
    expect(saga.body.found).toBe(true);
    expect(saga.body.saga).toMatchObject({
      transactionId: res.body.transactionId,
      status: 'completed',
      pattern: 'orchestration',
      purchaseData: { userId: 'user-123', itemId: 'item-sword', quantity: 1, price: 100 },
      compensations: [],
    });
    expect(
      saga.body.saga.steps.map((s: { step: string; status: string }) => [s.step, s.status]),
    ).toEqual([
      ['user_validation', 'success'],
      ['item_grant', 'success'],
      ['log_record', 'success'],
      ['notification', 'success'],
    ]);
    expect(saga.body.saga.completedAt).toBeDefined();

    const profile = await t.http.get('/users/user-123').expect(200);
    expect(profile.body.inventory).toEqual([
      { itemId: 'item-sword', name: 'Magic Sword', quantity: 1 },
    ]);
  });

  it('user-456 cannot afford it: 409 INSUFFICIENT_BALANCE, nothing changed', async () => {
    const res = await buy(t, { userId: 'user-456', itemId: 'item-sword', quantity: 1 }).expect(409);
    expect(res.body).toMatchObject({
      statusCode: 409,
      errorCode: 'INSUFFICIENT_BALANCE',
      success: false,
      status: 'failed',
      completedSteps: [],
      error: { step: 'user_validation', code: 'INSUFFICIENT_BALANCE' },
    });
    expect(res.body.message).toContain('Insufficient balance');
    expect(await balanceOf(t.db, 'user-456')).toBe('50.00');
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
  });

  it('a suspended user: 409 USER_NOT_ACTIVE', async () => {
    const res = await buy(t, {
      userId: 'user-suspended',
      itemId: 'item-potion',
      quantity: 1,
    }).expect(409);
    expect(res.body).toMatchObject({ errorCode: 'USER_NOT_ACTIVE', status: 'failed' });
    expect(await balanceOf(t.db, 'user-suspended')).toBe('1000.00');
  });

  it('out of stock: 409 INSUFFICIENT_STOCK, compensated, balance restored', async () => {
    const res = await buy(t, {
      userId: 'user-123',
      itemId: 'item-out-of-stock',
      quantity: 1,
    }).expect(409);
    expect(res.body).toMatchObject({
      errorCode: 'INSUFFICIENT_STOCK',
      status: 'compensated',
      completedSteps: ['user_validation'],
      error: { step: 'item_grant', code: 'INSUFFICIENT_STOCK' },
    });
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
    expect(await stockOf(t.db, 'item-out-of-stock')).toBe(0);

    const saga = await t.http.get(`/saga/${res.body.transactionId}`).expect(200);
    expect(
      saga.body.saga.steps.map((s: { step: string; status: string }) => [s.step, s.status]),
    ).toEqual([
      ['user_validation', 'success'],
      ['item_grant', 'failed'],
    ]);
    expect(saga.body.saga.compensations).toEqual([
      expect.objectContaining({ step: 'user_validation', status: 'success', action: 'compensate' }),
    ]);
    expect(saga.body.saga.failedAt).toBeDefined();
  });

  it('a disabled item: 409 ITEM_NOT_AVAILABLE, balance restored', async () => {
    const res = await buy(t, { userId: 'user-123', itemId: 'item-disabled', quantity: 1 }).expect(
      409,
    );
    expect(res.body).toMatchObject({ errorCode: 'ITEM_NOT_AVAILABLE', status: 'compensated' });
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
    expect(await stockOf(t.db, 'item-disabled')).toBe(10);
  });

  it('over the purchase limit: 409 PURCHASE_LIMIT_EXCEEDED', async () => {
    // 6 swords = 600.00 > limit 500.00, although the balance (900) would cover it
    const res = await buy(t, { userId: 'user-123', itemId: 'item-sword', quantity: 6 }).expect(409);
    expect(res.body).toMatchObject({ errorCode: 'PURCHASE_LIMIT_EXCEEDED', status: 'failed' });
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
  });

  it('unknown user or item: 404', async () => {
    const user = await buy(t, { userId: 'ghost', itemId: 'item-sword', quantity: 1 }).expect(404);
    expect(user.body).toMatchObject({
      statusCode: 404,
      errorCode: 'USER_NOT_FOUND',
      status: 'failed',
    });
    const item = await buy(t, { userId: 'user-123', itemId: 'no-such-item', quantity: 1 }).expect(
      404,
    );
    expect(item.body).toMatchObject({
      statusCode: 404,
      errorCode: 'ITEM_NOT_FOUND',
      status: 'failed',
    });
    expect(await stockOf(t.db, 'item-sword')).toBe(49);
  });

  it('charges the catalogue price: a wrong client price is 409 PRICE_MISMATCH and changes nothing', async () => {
    const wrong = await buy(t, {
      userId: 'user-123',
      itemId: 'item-potion',
      quantity: 2,
      price: 1,
    }).expect(409);
    expect(wrong.body).toMatchObject({
      errorCode: 'PRICE_MISMATCH',
      status: 'failed',
      completedSteps: [],
    });
    expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
    expect(await stockOf(t.db, 'item-potion')).toBe(100);

    const right = await buy(t, {
      userId: 'user-123',
      itemId: 'item-potion',
      quantity: 2,
      price: 40,
    }).expect(200);
    expect(right.body.data.price).toBe(40);
    expect(await balanceOf(t.db, 'user-123')).toBe('860.00');
  });

  it.each([
    ['a missing field', { userId: 'user-123', quantity: 1 }],
    ['quantity 0', { userId: 'user-123', itemId: 'item-sword', quantity: 0 }],
    ['a fractional quantity', { userId: 'user-123', itemId: 'item-sword', quantity: 1.5 }],
    ['a huge quantity', { userId: 'user-123', itemId: 'item-sword', quantity: 1_000_000 }],
    ['an empty userId', { userId: '', itemId: 'item-sword', quantity: 1 }],
    ['a 51-char itemId', { userId: 'user-123', itemId: 'x'.repeat(51), quantity: 1 }],
    [
      'a price with 3 decimals',
      { userId: 'user-123', itemId: 'item-sword', quantity: 1, price: 100.001 },
    ],
    ['a negative price', { userId: 'user-123', itemId: 'item-sword', quantity: 1, price: -100 }],
    [
      'an unknown pattern',
      { userId: 'user-123', itemId: 'item-sword', quantity: 1, pattern: 'bogus' },
    ],
    ['an unknown field', { userId: 'user-123', itemId: 'item-sword', quantity: 1, discount: 50 }],
    ['a string quantity', { userId: 'user-123', itemId: 'item-sword', quantity: '1' }],
  ])('rejects %s with 400 VALIDATION_FAILED and creates no saga', async (_name, body) => {
    const before = await countRows(t.db, 'saga_states');
    const res = await buy(t, body).expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, errorCode: 'VALIDATION_FAILED' });
    expect(await countRows(t.db, 'saga_states')).toBe(before);
  });

  it('rejects a malformed Idempotency-Key', async () => {
    await buy(
      t,
      { userId: 'user-123', itemId: 'item-potion', quantity: 1 },
      { 'Idempotency-Key': 'x'.repeat(256) },
    ).expect(400);
  });

  it('GET /saga/:id of an unknown saga: 404 with found false', async () => {
    const res = await t.http.get('/saga/TXN_nope').expect(404);
    expect(res.body).toEqual({
      found: false,
      statusCode: 404,
      errorCode: 'SAGA_NOT_FOUND',
      message: 'Saga not found: TXN_nope',
    });
  });

  it('GET /sagas/stats counts the sagas per status', async () => {
    const res = await t.http.get('/sagas/stats').expect(200);
    const counts = await t.db.query<{ status: string; n: string }>(
      'SELECT status, count(*)::text AS n FROM saga_states GROUP BY status',
    );
    const n = (status: string) => Number(counts.rows.find((r) => r.status === status)?.n ?? 0);
    expect(res.body).toEqual({
      success: true,
      statistics: {
        total: counts.rows.reduce((sum, r) => sum + Number(r.n), 0),
        pending: 0,
        inProgress: 0,
        completed: n('completed'),
        failed: n('failed'),
        compensating: 0,
        compensated: n('compensated'),
      },
      asOf: expect.any(String),
    });
    expect(res.body.statistics.completed).toBe(2);
  });

  it("GET /logs/:userId lists the user's completed purchases, newest first", async () => {
    const res = await t.http.get('/logs/user-123').expect(200);
    expect(
      res.body.map((l: { itemId: string; status: string; price: number }) => [
        l.itemId,
        l.status,
        l.price,
      ]),
    ).toEqual([
      ['item-potion', 'completed', 40],
      ['item-sword', 'completed', 100],
    ]);
    await t.http.get('/logs/nobody').expect(200, []);
  });

  it('Prefer: respond-async answers 202 with a Location that ends completed', async () => {
    const res = await buy(
      t,
      { userId: 'user-123', itemId: 'item-potion', quantity: 1 },
      { Prefer: 'respond-async' },
    ).expect(202);
    expect(res.headers.location).toBe(`/saga/${res.body.transactionId}`);
    expect(['pending', 'in_progress', 'completed']).toContain(res.body.status);
    const status = await eventually(
      async () => {
        const saga = (await t.http.get(res.headers.location).expect(200)).body.saga;
        return saga.status === 'completed' ? (saga.status as string) : undefined;
      },
      10_000,
      'the saga to complete',
    );
    expect(status).toBe('completed');
  });
});

describe('Concurrency: parallel purchases never overdraw or oversell', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ DB_POOL_SIZE: '8' });
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'item-coin', name: 'Coin', price: 10, stock: 1000 })
      .expect(201);
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'item-rare', name: 'Rare', price: 1, stock: 5 })
      .expect(201);
    await t.http
      .post('/admin/users')
      .set(ADMIN)
      .send({ userId: 'user-ten', name: 'Ten', balance: 100 })
      .expect(201);
    for (let i = 0; i < 30; i++) {
      await t.http
        .post('/admin/users')
        .set(ADMIN)
        .send({ userId: `buyer-${i}`, name: `Buyer ${i}`, balance: 10 })
        .expect(201);
    }
  });

  afterAll(async () => {
    await t.close();
  });

  it('a balance for exactly 10 items, 50 parallel purchases: exactly 10 succeed', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        buy(t, { userId: 'user-ten', itemId: 'item-coin', quantity: 1 }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(40);
    expect(
      answers
        .filter((a) => a.status === 409)
        .every((a) => a.body.errorCode === 'INSUFFICIENT_BALANCE'),
    ).toBe(true);
    expect(await balanceOf(t.db, 'user-ten')).toBe('0.00');
    expect(await stockOf(t.db, 'item-coin')).toBe(990);
    expect(await ownedOf(t.db, 'user-ten', 'item-coin')).toBe(10);
  });

  it('stock 5, 30 buyers in parallel: exactly 5 succeed, the others are refunded', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        buy(t, { userId: `buyer-${i}`, itemId: 'item-rare', quantity: 1 }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
    const refused = answers.filter((a) => a.status === 409);
    expect(refused).toHaveLength(25);
    expect(
      refused.every(
        (a) => a.body.errorCode === 'INSUFFICIENT_STOCK' && a.body.status === 'compensated',
      ),
    ).toBe(true);
    expect(await stockOf(t.db, 'item-rare')).toBe(0);
    const balances = await t.db.query<{ balance: string; n: string }>(
      "SELECT u.balance::text, count(*)::text AS n FROM users u WHERE u.user_id LIKE 'buyer-%' GROUP BY u.balance ORDER BY u.balance",
    );
    expect(balances.rows).toEqual([
      { balance: '9.00', n: '5' },
      { balance: '10.00', n: '25' },
    ]);
    const start = {
      balances: { 'user-ten': '100.00' } as Record<string, string>,
      stock: { 'item-coin': 1000, 'item-rare': 5 },
    };
    for (let i = 0; i < 30; i++) start.balances[`buyer-${i}`] = '10.00';
    await expectConservation(t.db, start);
  });
});

describe('Purchases sharing a batch are decided as if one after the other', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({});
    await t.http
      .post('/admin/users')
      .set(ADMIN)
      .send({ userId: 'user-150', name: 'Hundred fifty', balance: 150 })
      .expect(201);
    await t.http
      .post('/admin/users')
      .set(ADMIN)
      .send({ userId: 'user-rich', name: 'Rich', balance: 10000 })
      .expect(201);
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'item-fifty', name: 'Fifty', price: 50, stock: 100 })
      .expect(201);
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'item-last', name: 'Last one', price: 1, stock: 1 })
      .expect(201);
  });

  afterAll(async () => {
    await t.close();
  });

  // One batch, decided in one statement: earlier debits of the same user count against the
  // balance; the first that does not fit is refused with what was left, and those behind it are
  // handed back for a later batch (they may be smaller) instead of being refused on a guess.
  it('decides the debits of one batch in order, handing back those behind a refusal', async () => {
    const users = t.app.get(UsersService, { strict: false });
    await t.http
      .post('/admin/users')
      .set(ADMIN)
      .send({ userId: 'user-batch', name: 'Batch', balance: 150 })
      .expect(201);

    const first = await users.debitForPurchases([
      { userId: 'user-batch', total: '200.00' },
      { userId: 'user-batch', total: '100.00' },
      { userId: 'nobody', total: '1.00' },
      { userId: 'user-batch', total: '100.00' },
    ]);
    expect(first[0]).toMatchObject({
      kind: 'error',
      error: {
        code: 'INSUFFICIENT_BALANCE',
        message: 'Insufficient balance. Available: 150.00, Required: 200.00',
      },
    });
    expect(first[1]).toEqual({ kind: 'requeue' });
    expect(first[2]).toMatchObject({ kind: 'error', error: { code: 'USER_NOT_FOUND' } });
    expect(first[3]).toEqual({ kind: 'requeue' });
    expect(await balanceOf(t.db, 'user-batch')).toBe('150.00');

    const second = await users.debitForPurchases([
      { userId: 'user-batch', total: '100.00' },
      { userId: 'user-batch', total: '50.00' },
      { userId: 'user-batch', total: '10.00' },
    ]);
    expect(second).toEqual([
      { kind: 'value', value: { balanceBefore: '150.00', balanceAfter: '50.00' } },
      { kind: 'value', value: { balanceBefore: '50.00', balanceAfter: '0.00' } },
      expect.objectContaining({
        kind: 'error',
        error: expect.objectContaining({
          message: 'Insufficient balance. Available: 0.00, Required: 10.00',
        }),
      }),
    ]);
    expect(await balanceOf(t.db, 'user-batch')).toBe('0.00');
  });

  it('decides the reservations of one batch in order, handing back those behind a refusal', async () => {
    const items = t.app.get(ItemsService, { strict: false });
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'item-three', name: 'Three', price: 1, stock: 3 })
      .expect(201);

    const first = await items.reserveForPurchases([
      { itemId: 'item-three', quantity: 5 },
      { itemId: 'item-three', quantity: 1 },
      { itemId: 'item-three', quantity: 2 },
    ]);
    expect(first).toEqual([
      expect.objectContaining({
        kind: 'error',
        error: expect.objectContaining({
          code: 'INSUFFICIENT_STOCK',
          message: 'Insufficient stock. Available: 3, Requested: 5',
        }),
      }),
      { kind: 'requeue' },
      { kind: 'requeue' },
    ]);
    expect(await stockOf(t.db, 'item-three')).toBe(3);

    const second = await items.reserveForPurchases([
      { itemId: 'item-three', quantity: 1 },
      { itemId: 'item-three', quantity: 2 },
      { itemId: 'item-three', quantity: 1 },
    ]);
    expect(second).toEqual([
      { kind: 'value', value: { stockBefore: 3, stockAfter: 2 } },
      { kind: 'value', value: { stockBefore: 2, stockAfter: 0 } },
      expect.objectContaining({
        kind: 'error',
        error: expect.objectContaining({
          message: 'Insufficient stock. Available: 0, Requested: 1',
        }),
      }),
    ]);
    expect(await stockOf(t.db, 'item-three')).toBe(0);
  });

  // A batch holds its users' and items' rows until it commits. Another batch granting the same
  // user an item checks both rows through the inventory's foreign keys: that check must not wait
  // for the holder, or two batches granting to each other's users deadlock.
  it('a batch holding a user and an item does not block inventory rows that reference them', async () => {
    const users = t.app.get(UsersService, { strict: false });
    const items = t.app.get(ItemsService, { strict: false });
    const tx = t.app.get(TransactionHost, { strict: false });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => (locked = resolve));
    const holder = tx.run(async () => {
      await users.debitForPurchases([{ userId: 'user-rich', total: '1.00' }]);
      await items.reserveForPurchases([{ itemId: 'item-fifty', quantity: 1 }]);
      locked();
      await held;
      throw new Error('roll back');
    });

    try {
      await holding;
      await t.db.query('BEGIN');
      try {
        await t.db.query("SET LOCAL lock_timeout = '2s'");
        await t.db.query(
          `INSERT INTO user_inventory (user_id, item_id, quantity) VALUES ('user-rich', 'item-fifty', 1)
           ON CONFLICT (user_id, item_id) DO UPDATE SET quantity = user_inventory.quantity + 1`,
        );
      } finally {
        await t.db.query('ROLLBACK');
      }
    } finally {
      release();
      await expect(holder).rejects.toThrow('roll back');
    }
  });

  // Sent together, both purchases are recorded and debited in the same batches. Whatever their
  // order, the smaller one fits and the larger one does not: refusing the smaller one because a
  // larger one came first in its batch would be an outcome no serial order gives.
  it('a debit that fits is not refused because a larger one of the same user was', async () => {
    const [large, small] = await Promise.all([
      buy(t, { userId: 'user-150', itemId: 'item-fifty', quantity: 4 }),
      buy(t, { userId: 'user-150', itemId: 'item-fifty', quantity: 2 }),
    ]);

    expect(large.status).toBe(409);
    expect(large.body).toMatchObject({ errorCode: 'INSUFFICIENT_BALANCE', status: 'failed' });
    expect(small.status).toBe(200);
    expect(await balanceOf(t.db, 'user-150')).toBe('50.00');
    expect(await stockOf(t.db, 'item-fifty')).toBe(98);
  });

  it('a reservation that fits is not refused because a larger one of the same item was', async () => {
    const [large, small] = await Promise.all([
      buy(t, { userId: 'user-rich', itemId: 'item-last', quantity: 2 }),
      buy(t, { userId: 'user-rich', itemId: 'item-last', quantity: 1 }),
    ]);

    expect(large.status).toBe(409);
    expect(large.body).toMatchObject({ errorCode: 'INSUFFICIENT_STOCK', status: 'compensated' });
    expect(small.status).toBe(200);
    expect(await stockOf(t.db, 'item-last')).toBe(0);
    expect(await ownedOf(t.db, 'user-rich', 'item-last')).toBe(1);
    expect(await balanceOf(t.db, 'user-rich')).toBe('9999.00');
  });
});

describe('Idempotency-Key', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  it('20 parallel requests with one key start one saga and all get the same answer', async () => {
    const body = { userId: 'user-123', itemId: 'item-sword', quantity: 2 };
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => buy(t, body, { 'Idempotency-Key': 'order-42' })),
    );
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([200]));
    const ids = new Set(answers.map((a) => a.body.transactionId));
    expect(ids.size).toBe(1);
    expect(answers.every((a) => JSON.stringify(a.body) === JSON.stringify(answers[0].body))).toBe(
      true,
    );
    expect(await countRows(t.db, 'saga_states')).toBe(1);
    expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
    expect(await stockOf(t.db, 'item-sword')).toBe(48);

    const again = await buy(t, body, { 'Idempotency-Key': 'order-42' }).expect(200);
    expect(again.body).toEqual(answers[0].body);
  });

  it('the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, nothing changed', async () => {
    const res = await buy(
      t,
      { userId: 'user-123', itemId: 'item-sword', quantity: 3 },
      { 'Idempotency-Key': 'order-42' },
    ).expect(422);
    expect(res.body).toMatchObject({ statusCode: 422, errorCode: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await countRows(t.db, 'saga_states')).toBe(1);
    expect(await balanceOf(t.db, 'user-123')).toBe('800.00');
  });

  it('a refused purchase replays its refusal', async () => {
    const body = { userId: 'user-456', itemId: 'item-sword', quantity: 1 };
    const first = await buy(t, body, { 'Idempotency-Key': 'poor-1' }).expect(409);
    const second = await buy(t, body, { 'Idempotency-Key': 'poor-1' }).expect(409);
    expect(second.body).toEqual(first.body);
  });
});
