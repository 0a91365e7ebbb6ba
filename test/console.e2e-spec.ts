import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { ADMIN, startTestApp, TestApp } from './support/test-app';

const FAST_RETRIES = { STEP_MAX_ATTEMPTS: '2', STEP_RETRY_BASE_MS: '1', STEP_RETRY_MAX_MS: '5' };
const ALICE = { Authorization: 'Bearer alice-token-0123456789' };

interface Summary {
  transactionId: string;
  status: string;
  pattern: string;
  userId: string;
  itemId: string;
  createdAt: string;
}

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  transactionId: string | null;
  reason: string;
  outcome: string;
  errorCode: string | null;
  detail: string | null;
}

describe('Operator console API', () => {
  let t: TestApp;
  /** Failed with COMPENSATION_FAILED (its compensation had a fault injected). */
  let compensationFailed: string;
  let compensated: string;
  let choreographed: string;
  const completed: string[] = [];

  beforeAll(async () => {
    const broken = await startTestApp({
      ...FAST_RETRIES,
      SAGA_PATTERN_MODE: 'orchestration',
      SAGA_FAULTS: 'fail:compensation:user_validation',
    });
    const failed = await broken.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 })
      .expect(503);
    compensationFailed = failed.body.transactionId as string;
    await broken.stop();

    t = await startTestApp(
      {
        ...FAST_RETRIES,
        SAGA_PATTERN_MODE: 'orchestration',
        ADMIN_TOKENS: 'alice:alice-token-0123456789',
      },
      broken.database,
    );
    // Debited, then refused by the item: compensated.
    const refused = await t.http
      .post('/purchase')
      .send({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 })
      .expect(409);
    expect(refused.body.status).toBe('compensated');
    compensated = refused.body.transactionId as string;
    for (let i = 0; i < 4; i++) {
      const res = await t.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-sword', quantity: 1 })
        .expect(200);
      completed.push(res.body.transactionId as string);
    }
    const chor = await t.http
      .post('/purchase/choreography')
      .set('Idempotency-Key', 'console-order-1')
      .send({ userId: 'user-456', itemId: 'item-potion', quantity: 1 })
      .expect(200);
    choreographed = chor.body.transactionId as string;
    // Open long past SAGA_TIMEOUT_MS while another instance holds its lease: stuck.
    await t.db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, current_step, user_id, item_id,
         quantity, price, lease_owner, lease_expires_at, created_at, updated_at)
       VALUES ('TXN_stuck', 'choreography', 'in_progress', 'item_grant', 'user-123', 'item-potion',
         1, 20.00, 'another-instance', now() + interval '1 day', '2020-01-01Z', '2020-01-01Z')`,
    );
  });

  afterAll(async () => {
    await t.close();
  });

  const list = async (query: string): Promise<{ body: Record<string, unknown>; ids: string[] }> => {
    const res = await t.http.get(`/admin/sagas?${query}`).set(ADMIN).expect(200);
    return { body: res.body, ids: (res.body.data as Summary[]).map((s) => s.transactionId) };
  };

  describe('GET /admin/session', () => {
    it("names the token's holder and tells whether actions are allowed", async () => {
      const admin = await t.http.get('/admin/session').set(ADMIN).expect(200);
      expect(admin.body).toEqual({ name: 'admin', readOnly: false });
      const alice = await t.http.get('/admin/session').set(ALICE).expect(200);
      expect(alice.body).toEqual({ name: 'alice', readOnly: false });
    });

    it('refuses a wrong or missing token on every console route', async () => {
      const wrong = { Authorization: 'Bearer not-the-token-0123456789' };
      for (const path of [
        '/admin/session',
        '/admin/audit',
        '/admin/overview',
        `/admin/sagas/${compensated}`,
      ]) {
        const res = await t.http.get(path).set(wrong).expect(401);
        expect(res.body.errorCode).toBe('UNAUTHORIZED');
        await t.http.get(path).expect(401);
      }
      await t.http
        .post(`/admin/sagas/${compensationFailed}/compensate`)
        .set(wrong)
        .send({ reason: 'x' })
        .expect(401);
    });
  });

  describe('GET /admin/sagas, the filters added for the console', () => {
    it('filters by item', async () => {
      const { ids, body } = await list('itemId=item-sword');
      expect(ids).toEqual([...completed].reverse());
      expect(body.total).toBe(4);
    });

    it('looks a saga up by transaction id or by Idempotency-Key', async () => {
      expect((await list(`transactionId=${compensated}`)).ids).toEqual([compensated]);
      expect((await list('idempotencyKey=console-order-1')).ids).toEqual([choreographed]);
      expect((await list('idempotencyKey=no-such-key')).ids).toEqual([]);
    });

    it('finds sagas whose compensation gave up, and stuck ones', async () => {
      expect((await list('status=compensation_failed')).ids).toEqual([compensationFailed]);
      expect((await list('status=stuck')).ids).toEqual(['TXN_stuck']);
      // The plain status still lists every failed saga.
      expect((await list('status=failed')).ids).toContain(compensationFailed);
    });

    it('pages newest first by keyset cursor, without overlap or gap', async () => {
      const all = (await list('limit=100')).ids;
      expect(all).toHaveLength(8);
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const query: string = cursor === null ? 'limit=3' : `limit=3&cursor=${cursor}`;
        const { body, ids } = await list(query);
        seen.push(...ids);
        cursor = body.nextCursor as string | null;
        if (cursor === null) break;
      }
      expect(seen).toEqual(all);
      // Page numbers still work as before, and give the same order.
      const second = await list('limit=3&page=2');
      expect(second.ids).toEqual(all.slice(3, 6));
      expect(second.body).toMatchObject({ total: 8, page: 2, limit: 3, totalPages: 3 });
    });

    it.each([
      ['status=stuckish'],
      ['itemId=item%20sword'],
      ['itemId=' + 'x'.repeat(51)],
      ['transactionId=' + 'x'.repeat(101)],
      ['transactionId=TXN%2F..'],
      ['idempotencyKey=a%00b'],
      ['cursor=not-a-cursor'],
      [`cursor=${Buffer.from('["yesterday","TXN_1"]').toString('base64url')}`],
      [`cursor=${Buffer.from('{"a":1}').toString('base64url')}`],
      ['itemId=item-sword&itemId=item-potion'],
    ])('refuses %s with 400 VALIDATION_FAILED', async (query) => {
      const res = await t.http.get(`/admin/sagas?${query}`).set(ADMIN).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, errorCode: 'VALIDATION_FAILED' });
    });
  });

  describe('GET /admin/sagas/:transactionId', () => {
    it("shows a compensated saga's steps and compensations, the user's and item's figures", async () => {
      const res = await t.http.get(`/admin/sagas/${compensated}`).set(ADMIN).expect(200);
      expect(res.body.saga).toMatchObject({ transactionId: compensated, status: 'compensated' });
      expect(res.body.saga.steps.map((s: { step: string; status: string }) => s.status)).toEqual([
        'success',
        'failed',
      ]);
      expect(res.body.saga.compensations).toEqual([
        expect.objectContaining({
          step: 'user_validation',
          status: 'success',
          duration: expect.any(Number),
        }),
      ]);
      expect(res.body.user).toMatchObject({ userId: 'user-123', balance: 100 });
      expect(res.body.item).toMatchObject({ itemId: 'item-out-of-stock', stock: 0 });
      expect(res.body.events).toEqual([]);
      expect(res.body.audit).toEqual([]);
    });

    it('lists the outbox events of a choreographed saga with their delivery state', async () => {
      const res = await t.http.get(`/admin/sagas/${choreographed}`).set(ADMIN).expect(200);
      const types = (res.body.events as { eventType: string; dispatched: boolean }[]).map(
        (e) => e.eventType,
      );
      expect(types[0]).toBe('PurchaseInitiated');
      expect(types).toContain('PurchaseCompleted');
      const validated = (res.body.events as { eventType: string }[]).find(
        (e) => e.eventType === 'UserValidated',
      );
      expect(validated).toMatchObject({
        dispatched: expect.any(Boolean),
        data: expect.objectContaining({ userId: 'user-456', balanceBefore: 50, balanceAfter: 30 }),
      });
    });

    it('answers 404 SAGA_NOT_FOUND for an unknown saga', async () => {
      const res = await t.http.get('/admin/sagas/TXN_nope').set(ADMIN).expect(404);
      expect(res.body.errorCode).toBe('SAGA_NOT_FOUND');
    });
  });

  describe('POST /admin/sagas/:transactionId/compensate and GET /admin/audit', () => {
    const auditOf = async (query = ''): Promise<AuditEntry[]> =>
      (await t.http.get(`/admin/audit?${query}`).set(ADMIN).expect(200)).body.data as AuditEntry[];

    it('refuses an action without a reason, and records nothing', async () => {
      for (const body of [{}, { reason: '' }, { reason: '   ' }, { reason: 'x'.repeat(501) }]) {
        const res = await t.http
          .post(`/admin/sagas/${compensationFailed}/compensate`)
          .set(ADMIN)
          .send(body)
          .expect(400);
        expect(res.body.errorCode).toBe('VALIDATION_FAILED');
      }
      expect(await auditOf()).toEqual([]);
    });

    it('re-drives a failed compensation and writes who, when, what, why and the outcome', async () => {
      const before = Date.now();
      const res = await t.http
        .post(`/admin/sagas/${compensationFailed}/compensate`)
        .set(ALICE)
        .send({ reason: 'Refund fault fixed' })
        .expect(200);
      expect(res.body).toMatchObject({ success: true, saga: { status: 'compensated' } });
      expect(
        (await t.db.query('SELECT balance FROM users WHERE user_id = $1', ['user-123'])).rows[0],
      ).toEqual({ balance: '600.00' });
      const [entry] = await auditOf();
      expect(entry).toMatchObject({
        actor: 'alice',
        action: 're-drive',
        transactionId: compensationFailed,
        reason: 'Refund fault fixed',
        outcome: 'succeeded',
        errorCode: null,
      });
      expect(Date.parse(entry.at)).toBeGreaterThanOrEqual(before - 1000);
      expect(res.body.audit).toEqual(entry);
    });

    it('records a refused action with its error, and answers as the saga module does', async () => {
      const done = await t.http
        .post(`/admin/sagas/${completed[0]}/compensate`)
        .set(ADMIN)
        .send({ reason: 'Customer asked' })
        .expect(409);
      expect(done.body.errorCode).toBe('SAGA_NOT_COMPENSABLE');
      await t.http
        .post('/admin/sagas/TXN_nope/compensate')
        .set(ADMIN)
        .send({ reason: 'typo' })
        .expect(404);
      const [unknown, pastPivot] = await auditOf();
      expect(unknown).toMatchObject({
        actor: 'admin',
        transactionId: 'TXN_nope',
        outcome: 'failed',
        errorCode: 'SAGA_NOT_FOUND',
      });
      expect(pastPivot).toMatchObject({
        actor: 'admin',
        action: 'compensate',
        transactionId: completed[0],
        reason: 'Customer asked',
        outcome: 'failed',
        errorCode: 'SAGA_NOT_COMPENSABLE',
      });
      // The saga is untouched.
      expect((await list(`transactionId=${completed[0]}`)).body.data).toEqual([
        expect.objectContaining({ status: 'completed' }),
      ]);
    });

    it('pages the audit log newest first, filters it by saga, and shows it in the detail', async () => {
      const all = await auditOf();
      expect(all).toHaveLength(3);
      const first = await t.http.get('/admin/audit?limit=2').set(ADMIN).expect(200);
      expect(first.body.data.map((e: AuditEntry) => e.id)).toEqual(
        all.slice(0, 2).map((e) => e.id),
      );
      const rest = await t.http
        .get(`/admin/audit?limit=2&before=${first.body.nextBefore as string}`)
        .set(ADMIN)
        .expect(200);
      expect(rest.body).toEqual({ data: [all[2]], nextBefore: null });
      expect(await auditOf(`transactionId=${compensationFailed}`)).toEqual([all[2]]);
      const detail = await t.http.get(`/admin/sagas/${compensationFailed}`).set(ADMIN).expect(200);
      expect(detail.body.audit).toEqual([all[2]]);
    });

    it.each([['before=0'], ['before=abc'], ['limit=0'], ['transactionId=a%20b'], ['other=1']])(
      'refuses the audit query %s with 400',
      async (query) => {
        const res = await t.http.get(`/admin/audit?${query}`).set(ADMIN).expect(400);
        expect(res.body.errorCode).toBe('VALIDATION_FAILED');
      },
    );
  });

  describe('CONSOLE_READ_ONLY=true', () => {
    it('refuses the action with 403 CONSOLE_READ_ONLY, changes nothing and records the refusal', async () => {
      const ro = await startTestApp({ ...FAST_RETRIES, CONSOLE_READ_ONLY: 'true' }, t.database);
      try {
        await ro.http
          .get('/admin/session')
          .set(ADMIN)
          .expect(200, { name: 'admin', readOnly: true });
        const res = await ro.http
          .post('/admin/sagas/TXN_stuck/compensate')
          .set(ADMIN)
          .send({ reason: 'Try it' })
          .expect(403);
        expect(res.body).toMatchObject({ statusCode: 403, errorCode: 'CONSOLE_READ_ONLY' });
        const status = await t.db.query(
          `SELECT status FROM saga_states WHERE transaction_id = 'TXN_stuck'`,
        );
        expect(status.rows).toEqual([{ status: 'in_progress' }]);
        const [entry] = (await ro.http.get('/admin/audit').set(ADMIN).expect(200)).body
          .data as AuditEntry[];
        expect(entry).toMatchObject({
          transactionId: 'TXN_stuck',
          outcome: 'refused',
          errorCode: 'CONSOLE_READ_ONLY',
        });
      } finally {
        await ro.stop();
      }
    });
  });

  describe('GET /admin/overview', () => {
    it("counts this instance's finished sagas per status from its counters", async () => {
      const before = (await t.http.get('/admin/overview').set(ADMIN).expect(200)).body;
      await t.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
        .expect(200);
      await t.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 })
        .expect(409);
      const after = (await t.http.get('/admin/overview').set(ADMIN).expect(200)).body;
      expect(after).toMatchObject({ scope: 'instance', sampleSeconds: 5, windowSeconds: 900 });
      expect(after.window.finished.completed - before.window.finished.completed).toBe(1);
      expect(after.window.finished.compensated - before.window.finished.compensated).toBe(1);
      expect(after.window.p50Ms).toEqual(expect.any(Number));
      expect(after.window.compensationRate).toBeGreaterThan(0);
      const last = after.points.at(-1);
      expect(last.finished.completed + last.finished.compensated).toBeGreaterThanOrEqual(2);
    });
  });
});

describe('The console audit migration', () => {
  it('comes and goes on a database with sagas, changing none of its rows', async () => {
    const first = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' });
    const { database } = first;
    const db = new Client({ connectionString: database.url });
    try {
      await first.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
        .expect(200);
      await first.stop();
      await db.connect();
      // The saga rows as they stand, bar the columns of migrations after this one.
      const sagas = `SELECT md5(string_agg((to_jsonb(t) - 'trace_parent' - 'definition_name'
                       - 'definition_version' - 'definition_hash')::text, ','
                       ORDER BY transaction_id)) AS digest FROM saga_states t`;
      const audit = `SELECT count(*)::int AS n FROM information_schema.tables
                      WHERE table_name = 'admin_audit_log'`;
      const before = (await db.query<{ digest: string }>(sagas)).rows[0].digest;

      const dataSource = new DataSource(
        dataSourceOptions(database.url, { poolSize: 1, slowQueryMs: 600_000 }),
      );
      await dataSource.initialize();
      // Back to before this migration, undoing any that came after it first.
      for (let undone = ''; undone !== 'ConsoleAudit1796100000000';) {
        const [last] = await dataSource.query<{ name: string }[]>(
          'SELECT name FROM migrations ORDER BY id DESC LIMIT 1',
        );
        await dataSource.undoLastMigration({ transaction: 'each' });
        undone = last.name;
      }
      await dataSource.destroy();
      expect((await db.query<{ n: number }>(audit)).rows[0].n).toBe(0);
      expect((await db.query<{ digest: string }>(sagas)).rows[0].digest).toBe(before);

      const second = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' }, database);
      try {
        expect((await db.query<{ n: number }>(audit)).rows[0].n).toBe(1);
        expect((await db.query<{ digest: string }>(sagas)).rows[0].digest).toBe(before);
        const listed = await second.http.get('/admin/sagas?itemId=item-potion').set(ADMIN);
        expect(listed.body.total).toBe(1);
      } finally {
        await second.stop();
      }
    } finally {
      await db.end().catch(() => undefined);
      await database.drop();
    }
  });
});
