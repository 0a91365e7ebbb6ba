import {
  StatementAfterCommitError,
  TransactionHost,
  TransactionRolledBackError,
} from '../src/database/transaction-host';
import { SagaRepository } from '../src/modules/saga/core/saga.repository';
import { ADMIN, setConnectable, startTestApp, TestApp } from './support/test-app';

describe('Foundation: catalogue, users, admin upkeep, errors, health', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  describe('catalogue and users', () => {
    it('lists the demo items with exact prices', async () => {
      const res = await t.http.get('/items').expect(200);
      const byId = Object.fromEntries(
        (res.body as { itemId: string }[]).map((item) => [item.itemId, item]),
      );
      expect(Object.keys(byId).sort()).toEqual([
        'item-disabled',
        'item-out-of-stock',
        'item-potion',
        'item-sword',
      ]);
      expect(byId['item-sword']).toMatchObject({
        name: 'Magic Sword',
        price: 100,
        stock: 50,
        isAvailable: true,
      });
      expect(byId['item-disabled']).toMatchObject({ price: 50, stock: 10, isAvailable: false });
    });

    it('reads one item, and 404 ITEM_NOT_FOUND for an unknown one', async () => {
      await t.http.get('/items/item-potion').expect(200, /Health Potion/);
      const res = await t.http.get('/items/no-such-item').expect(404);
      expect(res.body).toEqual({
        statusCode: 404,
        errorCode: 'ITEM_NOT_FOUND',
        message: 'Item not found: no-such-item',
      });
    });

    it('reads a user profile with balance, limit and inventory', async () => {
      const res = await t.http.get('/users/user-123').expect(200);
      expect(res.body).toMatchObject({
        userId: 'user-123',
        balance: 1000,
        status: 'active',
        purchaseLimit: 500,
        inventory: [],
      });
      const unknown = await t.http.get('/users/nobody').expect(404);
      expect(unknown.body.errorCode).toBe('USER_NOT_FOUND');
    });
  });

  describe('admin upkeep', () => {
    const newUser = { userId: 'user-new', name: 'New Player', balance: 25.5, purchaseLimit: 10 };

    it('refuses without a token or with a wrong one, and creates nothing', async () => {
      const none = await t.http.post('/admin/users').send(newUser).expect(401);
      expect(none.body).toMatchObject({ statusCode: 401, errorCode: 'UNAUTHORIZED' });
      await t.http
        .post('/admin/users')
        .set('Authorization', 'Bearer not-the-token-at-all')
        .send(newUser)
        .expect(401);
      const rows = await t.db.query('SELECT 1 FROM users WHERE user_id = $1', [newUser.userId]);
      expect(rows.rowCount).toBe(0);
    });

    it('creates a user, refuses a duplicate, and tops it up exactly', async () => {
      const created = await t.http.post('/admin/users').set(ADMIN).send(newUser).expect(201);
      expect(created.body).toMatchObject({
        userId: 'user-new',
        balance: 25.5,
        purchaseLimit: 10,
        status: 'active',
      });
      const duplicate = await t.http.post('/admin/users').set(ADMIN).send(newUser).expect(409);
      expect(duplicate.body.errorCode).toBe('USER_ALREADY_EXISTS');

      await t.http
        .post('/admin/users/user-new/top-up')
        .set(ADMIN)
        .send({ amount: 0.1 })
        .expect(200);
      const topped = await t.http
        .post('/admin/users/user-new/top-up')
        .set(ADMIN)
        .send({ amount: 0.2 })
        .expect(200);
      expect(topped.body.balance).toBe(25.8);
      const row = await t.db.query('SELECT balance::text FROM users WHERE user_id = $1', [
        'user-new',
      ]);
      expect(row.rows[0].balance).toBe('25.80');
    });

    it('suspends a user', async () => {
      const res = await t.http
        .patch('/admin/users/user-new')
        .set(ADMIN)
        .send({ status: 'suspended' })
        .expect(200);
      expect(res.body.status).toBe('suspended');
    });

    it('creates and restocks an item', async () => {
      await t.http
        .post('/admin/items')
        .set(ADMIN)
        .send({ itemId: 'item-shield', name: 'Iron Shield', price: 19.99, stock: 3 })
        .expect(201);
      const restocked = await t.http
        .patch('/admin/items/item-shield')
        .set(ADMIN)
        .send({ addStock: 7 })
        .expect(200);
      expect(restocked.body).toMatchObject({ stock: 10, price: 19.99, isAvailable: true });
      await t.http.patch('/admin/items/no-such-item').set(ADMIN).send({ addStock: 1 }).expect(404);
    });

    it('rejects bad upkeep input with 400 VALIDATION_FAILED and changes nothing', async () => {
      const res = await t.http
        .post('/admin/users/user-123/top-up')
        .set(ADMIN)
        .send({ amount: 1.234 })
        .expect(400);
      expect(res.body.errorCode).toBe('VALIDATION_FAILED');
      await t.http.post('/admin/users/user-123/top-up').set(ADMIN).send({ amount: -5 }).expect(400);
      await t.http.patch('/admin/items/item-sword').set(ADMIN).send({}).expect(400);
      const user = await t.http.get('/users/user-123').expect(200);
      expect(user.body.balance).toBe(1000);
    });
  });

  describe('errors', () => {
    it('rejects unknown body fields', async () => {
      const res = await t.http
        .post('/admin/items')
        .set(ADMIN)
        .send({ itemId: 'item-x', name: 'X', price: 1, stock: 1, sneaky: true })
        .expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, errorCode: 'VALIDATION_FAILED' });
      expect(res.body.message).toContain('property sneaky should not exist');
    });

    it('answers malformed JSON with 400, not 500', async () => {
      const res = await t.http
        .post('/admin/items')
        .set(ADMIN)
        .set('Content-Type', 'application/json')
        .send('{"itemId": "broken",')
        .expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        errorCode: 'VALIDATION_FAILED',
        message: 'Malformed JSON body',
      });
    });

    it('answers an oversized body with 413', async () => {
      const res = await t.http
        .post('/admin/items')
        .set(ADMIN)
        .send({ itemId: 'item-big', name: 'x'.repeat(100_000), price: 1, stock: 1 })
        .expect(413);
      expect(res.body.errorCode).toBe('PAYLOAD_TOO_LARGE');
    });

    it('answers unknown routes with 404 NOT_FOUND', async () => {
      const res = await t.http.get('/no/such/route').expect(404);
      expect(res.body).toMatchObject({ statusCode: 404, errorCode: 'NOT_FOUND' });
    });

    it('never leaks a stack trace', async () => {
      const res = await t.http
        .post('/admin/items')
        .set(ADMIN)
        .send('[1,2')
        .type('json')
        .expect(400);
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(js|ts):\d+/);
    });
  });

  describe('operations', () => {
    it('echoes a request id, or makes one', async () => {
      const given = await t.http.get('/items').set('X-Request-Id', 'abc-123').expect(200);
      expect(given.headers['x-request-id']).toBe('abc-123');
      const made = await t.http.get('/items').expect(200);
      expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('serves the OpenAPI document and UI', async () => {
      const doc = await t.http.get('/docs/json').expect(200);
      expect(Object.keys(doc.body.paths)).toEqual(
        expect.arrayContaining(['/items', '/users/{userId}', '/health']),
      );
      await t.http.get('/docs').expect(200, /swagger/i);
    });

    it('is healthy while the database answers', async () => {
      const res = await t.http.get('/health').expect(200);
      expect(res.body.details.database.status).toBe('up');
    });
  });

  // A prepared statement's generic plan may be made while the tables are nearly empty, as here,
  // and kept for the connection's lifetime: the service's connections plan without sequential
  // scans, so that plan keeps its index paths as the tables grow.
  it('plans by key on a nearly empty table, even a plan made once for every call', async () => {
    const tx = t.app.get(TransactionHost, { strict: false });
    const plan = await tx.run(async () => {
      await tx.query('SET LOCAL plan_cache_mode = force_generic_plan');
      await tx.query(
        'PREPARE by_key (varchar[]) AS SELECT transaction_id FROM saga_states WHERE transaction_id = ANY($1)',
      );
      try {
        return await tx.query<{ 'QUERY PLAN': string }>("EXPLAIN EXECUTE by_key('{TXN_a,TXN_b}')");
      } finally {
        await tx.query('DEALLOCATE by_key');
      }
    });
    const text = plan.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index/);
    expect(text).not.toMatch(/Seq Scan/);
  });

  // A transaction's statements issued without awaiting each other travel together on the
  // pipelined connection; they still run in order and commit or roll back as one.
  describe('pipelined transactions', () => {
    const keys = ['pipelined-a', 'pipelined-b'];
    const insert = 'INSERT INTO saga_settings (key, value) VALUES ($1, $2)';
    const stored = async (tx: TransactionHost): Promise<string[]> =>
      (
        await tx.query<{ key: string }>(
          'SELECT key FROM saga_settings WHERE key = ANY($1::varchar[]) ORDER BY key',
          [keys],
        )
      ).map((row) => row.key);

    afterEach(async () => {
      const tx = t.app.get(TransactionHost, { strict: false });
      await tx.query('DELETE FROM saga_settings WHERE key = ANY($1::varchar[])', [keys]);
    });

    it('commits statements sent together, run in the order they were issued', async () => {
      const tx = t.app.get(TransactionHost, { strict: false });
      const seen = await tx.run(async () => {
        const writes = [tx.query(insert, [keys[0], '1']), tx.query(insert, [keys[1], '2'])];
        const read = tx.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM saga_settings WHERE key = ANY($1::varchar[])',
          [keys],
        );
        await Promise.all(writes);
        return (await read)[0].n;
      });
      expect(seen).toBe('2');
      expect(await stored(tx)).toEqual(keys);
    });

    it('rolls all of them back when one fails, those sent after it included', async () => {
      const tx = t.app.get(TransactionHost, { strict: false });
      await expect(
        tx.run(async () => {
          await Promise.all([
            tx.query(insert, [keys[0], '1']),
            tx.query('SELECT 1 / $1::int AS n', [0]),
            tx.query(insert, [keys[1], '2']),
          ]);
        }),
      ).rejects.toThrow(/division by zero/);
      expect(await stored(tx)).toEqual([]);
      // The connection went back to the pool usable.
      expect(await tx.run(() => tx.query<{ n: number }>('SELECT 1::int AS n'))).toEqual([{ n: 1 }]);
    });

    it('commits with its COMMIT sent behind its last statement, refusing any statement after it', async () => {
      const tx = t.app.get(TransactionHost, { strict: false });
      await tx.run(async () => {
        const write = tx.query(insert, [keys[0], '1']);
        const committed = tx.commit();
        await expect(tx.query(insert, [keys[1], '2'])).rejects.toBeInstanceOf(
          StatementAfterCommitError,
        );
        await Promise.all([write, committed]);
      });
      expect(await stored(tx)).toEqual([keys[0]]);
    });

    it('rolls back a transaction whose early COMMIT follows a failed statement', async () => {
      const tx = t.app.get(TransactionHost, { strict: false });
      let early: unknown;
      await expect(
        tx.run(async () => {
          const writes = [tx.query(insert, [keys[0], '1']), tx.query(insert, [keys[0], '2'])];
          const committed = tx.commit().catch((error: unknown) => {
            early = error;
          });
          await Promise.all([...writes, committed]);
        }),
      ).rejects.toThrow(/duplicate key/);
      expect(early).toBeInstanceOf(TransactionRolledBackError);
      expect(await stored(tx)).toEqual([]);
    });

    it('fails a locked transition that does not apply, so that its early COMMIT rolls back', async () => {
      const tx = t.app.get(TransactionHost, { strict: false });
      const sagas = t.app.get(SagaRepository, { strict: false });
      const id = 'TXN_fence_guard';
      await t.db.query(
        `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price)
         VALUES ($1, 'orchestration', 'in_progress', 'user-123', 'item-potion', 1, 20)`,
        [id],
      );
      try {
        const { version } = (
          await t.db.query<{ version: number }>(
            'SELECT version FROM saga_states WHERE transaction_id = $1',
            [id],
          )
        ).rows[0];
        const stale = {
          transactionId: id,
          expectedVersion: version + 1,
          change: { status: 'in_progress' as const, leaseOwner: 'test', leaseMs: 1000 },
        };
        // Unlocked, a stale transition answers undefined and the transaction goes on.
        expect(await tx.run(() => sagas.applyTransitions([stale]))).toEqual([undefined]);
        await expect(
          tx.run(async () => {
            const written = tx.query(insert, [keys[0], '1']);
            const applied = sagas.applyTransitions([stale], { locked: true });
            await Promise.all([written, applied, tx.commit().catch(() => undefined)]);
          }),
        ).rejects.toThrow(/TXN_fence_guard is not at the version its transaction locked/);
        expect(await stored(tx)).toEqual([]);
        const after = await t.db.query<{ version: number }>(
          'SELECT version FROM saga_states WHERE transaction_id = $1',
          [id],
        );
        expect(after.rows[0].version).toBe(version);
      } finally {
        await t.db.query('DELETE FROM saga_states WHERE transaction_id = $1', [id]);
      }
    });

    it('never commits a transaction whose failed statement was caught', async () => {
      const tx = t.app.get(TransactionHost, { strict: false });
      await expect(
        tx.run(async () => {
          await tx.query(insert, [keys[0], '1']);
          await tx.query(insert, [keys[0], 'again']).catch(() => undefined);
        }),
      ).rejects.toBeInstanceOf(TransactionRolledBackError);
      expect(await stored(tx)).toEqual([]);
    });
  });
});

describe('Health when the database is unreachable', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await setConnectable(t.databaseUrl, true);
    await t.close();
  });

  it('answers 503 SERVICE_UNAVAILABLE on /health, reads and purchases, then recovers', async () => {
    await t.http.get('/health').expect(200);
    await setConnectable(t.databaseUrl, false);

    const health = await t.http.get('/health').expect(503);
    expect(health.body).toMatchObject({ statusCode: 503, errorCode: 'SERVICE_UNAVAILABLE' });
    expect(health.body.error.database.status).toBe('down');

    const read = await t.http.get('/items').expect(503);
    expect(read.body).toEqual({
      statusCode: 503,
      errorCode: 'SERVICE_UNAVAILABLE',
      message: 'The database cannot be reached; try again later',
    });

    const purchase = await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-sword', quantity: 1 })
      .expect(503);
    expect(purchase.body).toMatchObject({ statusCode: 503, errorCode: 'SERVICE_UNAVAILABLE' });
    expect(JSON.stringify(purchase.body)).not.toMatch(/SELECT|INSERT|at .*\.(js|ts):\d+/);

    await setConnectable(t.databaseUrl, true);
    await t.http.get('/health').expect(200);
    await t.http.get('/items').expect(200);
    await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-sword', quantity: 1 })
      .expect(200);
  });
});
