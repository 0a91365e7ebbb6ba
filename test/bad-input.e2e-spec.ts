import { balanceOf, countRows, stockOf } from './support/db-state';
import { ADMIN, startTestApp, TestApp } from './support/test-app';

/**
 * Input that PostgreSQL or a library would refuse or choke on (NUL, lone surrogates, controls,
 * bad percent-encoding, numbers printed in exponent form, values past a column's range) is
 * refused at the door with 400 VALIDATION_FAILED naming the field, and changes nothing.
 */
describe('Bad input of every shape gets a 4xx', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t.close();
  });

  async function snapshot(): Promise<unknown> {
    return {
      sagas: await countRows(t.db, 'saga_states'),
      logs: await countRows(t.db, 'transaction_logs'),
      balance: await balanceOf(t.db, 'user-123'),
      stock: await stockOf(t.db, 'item-sword'),
    };
  }

  it.each([
    ['/saga/%00', 'transactionId'],
    ['/users/%00', 'userId'],
    ['/items/%00', 'itemId'],
    ['/logs/%00', 'userId'],
    ['/choreography/transaction/%00', 'transactionId'],
    ['/choreography/user/%00/history', 'userId'],
    ['/users/user-123%00', 'userId'],
    ['/users/user%20123', 'userId'],
    ['/items/%E2%80%AEmeti', 'itemId'],
    [`/users/user-${'x'.repeat(50)}`, 'userId'],
  ])('GET %s: 400 naming %s', async (path, field) => {
    const res = await t.http.get(path).expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, errorCode: 'VALIDATION_FAILED' });
    expect(res.body.message).toMatch(new RegExp(`^${field} must be 1-(50|100) letters, digits`));
  });

  it('answers a URL that is not valid percent-encoding in the documented shape', async () => {
    // %ED%A0%80: a lone surrogate in UTF-8 form; %C0%80: an overlong NUL.
    for (const path of ['/users/%FE%07', '/saga/%zz', '/items/%C0%80', '/users/%ED%A0%80']) {
      const res = await t.http.get(path).expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        errorCode: 'VALIDATION_FAILED',
        message: expect.any(String),
      });
    }
  });

  it('answers 414 for a path parameter over 100 characters', async () => {
    const res = await t.http.get(`/saga/TXN_${'x'.repeat(100)}`).expect(414);
    expect(res.body).toEqual({
      statusCode: 414,
      errorCode: 'VALIDATION_FAILED',
      message: 'A path parameter is longer than 100 characters',
    });
  });

  it('refuses admin path parameters the same way, with the token', async () => {
    const before = await snapshot();
    await t.http
      .post('/admin/users/%00/top-up')
      .set(ADMIN)
      .send({ amount: 5 })
      .expect(400, /userId must be/);
    await t.http
      .patch('/admin/items/item-sword%00')
      .set(ADMIN)
      .send({ addStock: 5 })
      .expect(400, /itemId must be/);
    await t.http
      .post('/compensate/%00')
      .set(ADMIN)
      .expect(400, /transactionId must be/);
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['a NUL in userId', { userId: 'u\u0000', itemId: 'item-sword', quantity: 1 }, 'userId'],
    [
      'a lone surrogate in userId',
      { userId: '\ud800', itemId: 'item-sword', quantity: 1 },
      'userId',
    ],
    ['a NUL in itemId', { userId: 'user-123', itemId: 'item-sword\u0000', quantity: 1 }, 'itemId'],
    ['a space in userId', { userId: 'user 123', itemId: 'item-sword', quantity: 1 }, 'userId'],
    [
      'a price in exponent form',
      { userId: 'user-123', itemId: 'item-sword', quantity: 1, price: 1e-7 },
      'price',
    ],
  ])('POST /purchase with %s: 400 naming the field, no saga', async (_name, body, field) => {
    const before = await snapshot();
    for (const route of ['/purchase', '/purchase/choreography']) {
      const res = await t.http.post(route).send(body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, errorCode: 'VALIDATION_FAILED' });
      expect(res.body.details.errors).toEqual(
        expect.arrayContaining([expect.stringMatching(new RegExp(`^${field} `))]),
      );
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses an Idempotency-Key with characters outside visible ASCII', async () => {
    const before = await snapshot();
    const res = await t.http
      .post('/purchase')
      .set('Idempotency-Key', 'key\u00e9')
      .send({ userId: 'user-123', itemId: 'item-sword', quantity: 1 })
      .expect(400);
    expect(res.body.message).toMatch(/^Idempotency-Key must be/);
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['a NUL in the name', { userId: 'user-nul', name: 'Na\u0000me', balance: 1 }, 'name'],
    ['a control in the name', { userId: 'user-bel', name: 'Bell\u0007', balance: 1 }, 'name'],
    [
      'a lone surrogate in the email',
      { userId: 'user-e', name: 'E', balance: 1, email: '\ud800' },
      'email',
    ],
    ['a balance in exponent form', { userId: 'user-x', name: 'X', balance: 5e-324 }, 'balance'],
  ])('POST /admin/users with %s: 400 naming the field, no user', async (_name, body, field) => {
    const res = await t.http.post('/admin/users').set(ADMIN).send(body).expect(400);
    expect(res.body.details.errors).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`^${field} `))]),
    );
    await t.http.get(`/users/${body.userId}`).expect(404);
  });

  it('refuses an item description holding NUL, and keeps line breaks in one', async () => {
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'item-nul', name: 'N', description: 'a\u0000b', price: 1, stock: 1 })
      .expect(400, /description must be well-formed Unicode text/);
    await t.http.get('/items/item-nul').expect(404);
    await t.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: 'item-lines', name: 'L', description: 'line 1\nline 2', price: 1, stock: 1 })
      .expect(201);
  });

  it.each([
    ['patch', '/admin/items/item-sword', { price: null, isAvailable: null }, 'price'],
    ['patch', '/admin/items/item-sword', { isAvailable: null }, 'isAvailable'],
    ['patch', '/admin/items/item-none', { addStock: null }, 'addStock'],
    [
      'post',
      '/purchase',
      { userId: 'user-123', itemId: 'item-sword', quantity: 1, price: null },
      'price',
    ],
    [
      'post',
      '/purchase',
      { userId: 'user-123', itemId: 'item-sword', quantity: 1, pattern: null },
      'pattern',
    ],
    ['post', '/admin/users', { userId: 'user-null', name: 'N', balance: 1, email: null }, 'email'],
    [
      'post',
      '/admin/users',
      { userId: 'user-null', name: 'N', balance: 1, status: null },
      'status',
    ],
    [
      'post',
      '/admin/items',
      { itemId: 'item-null', name: 'N', price: 1, stock: 1, description: null },
      'description',
    ],
  ] as const)(
    '%s %s with %j: 400 naming %s, nothing changed',
    async (method, path, body, field) => {
      const before = await snapshot();
      const res = await t.http[method](path).set(ADMIN).send(body).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, errorCode: 'VALIDATION_FAILED' });
      expect(res.body.message).toMatch(new RegExp(`\\b${field}\\b`));
      expect(await snapshot()).toEqual(before);
      expect((await t.db.query("SELECT 1 FROM users WHERE user_id = 'user-null'")).rowCount).toBe(
        0,
      );
      expect((await t.db.query("SELECT 1 FROM items WHERE item_id = 'item-null'")).rowCount).toBe(
        0,
      );
      const sword = await t.http.get('/items/item-sword').expect(200);
      expect(sword.body).toMatchObject({ isAvailable: true, price: expect.any(Number) });
    },
  );

  it('a top-up or restock past what the columns hold is 400, and the figures stay', async () => {
    await t.http
      .post('/admin/users')
      .set(ADMIN)
      .send({ userId: 'user-rich', name: 'Rich', balance: 1_000_000_000 })
      .expect(201);
    // numeric(12,2) holds up to 9,999,999,999.99: the tenth billion does not fit.
    for (let i = 0; i < 8; i++) {
      await t.http
        .post('/admin/users/user-rich/top-up')
        .set(ADMIN)
        .send({ amount: 1_000_000_000 })
        .expect(200);
    }
    const balance = await balanceOf(t.db, 'user-rich');
    const res = await t.http
      .post('/admin/users/user-rich/top-up')
      .set(ADMIN)
      .send({ amount: 1_000_000_000 })
      .expect(400);
    expect(res.body).toEqual({
      statusCode: 400,
      errorCode: 'VALIDATION_FAILED',
      message: 'A number is out of the range the service can store',
    });
    expect(await balanceOf(t.db, 'user-rich')).toBe(balance);

    // stock is an int: 2,147,483,647 at most.
    await t.http
      .patch('/admin/items/item-sword')
      .set(ADMIN)
      .send({ addStock: 1_000_000_000 })
      .expect(200);
    await t.http
      .patch('/admin/items/item-sword')
      .set(ADMIN)
      .send({ addStock: 1_000_000_000 })
      .expect(200);
    const stock = await stockOf(t.db, 'item-sword');
    await t.http
      .patch('/admin/items/item-sword')
      .set(ADMIN)
      .send({ addStock: 1_000_000_000 })
      .expect(400, /out of the range/);
    expect(await stockOf(t.db, 'item-sword')).toBe(stock);
  });

  describe('a value the database refuses fails its own purchase only', () => {
    beforeAll(async () => {
      // Stands in for a rule validation does not know: the database refuses this user's data.
      await t.db.query(`
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.user_id = 'user-poison' THEN
            RAISE EXCEPTION 'poisoned value' USING ERRCODE = '22023';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON saga_states
          FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    });

    afterAll(async () => {
      await t.db.query('DROP TRIGGER refuse_poison ON saga_states; DROP FUNCTION refuse_poison()');
    });

    it('answers the poisoned purchase 400 and completes the ones recorded in its batch', async () => {
      const before = await countRows(t.db, 'saga_states');
      // Sent together, they are recorded in one batch: the poisoned one rolls it back whole.
      const answers = await Promise.all([
        ...Array.from({ length: 6 }, () =>
          t.http.post('/purchase').send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 }),
        ),
        t.http
          .post('/purchase')
          .send({ userId: 'user-poison', itemId: 'item-potion', quantity: 1 }),
      ]);
      const poisoned = answers.pop();
      expect(poisoned?.status).toBe(400);
      expect(poisoned?.body).toEqual({
        statusCode: 400,
        errorCode: 'VALIDATION_FAILED',
        message: 'A value of the request cannot be stored (invalid text or format)',
      });
      expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(await countRows(t.db, 'saga_states')).toBe(before + 6);
      await t.http.get('/health').expect(200);
    });
  });
});
