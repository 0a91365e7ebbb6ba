import { ADMIN, startTestApp, TestApp } from './support/test-app';

interface Summary {
  transactionId: string;
  status: string;
  pattern: string;
  userId: string;
  itemId: string;
  quantity: number;
  price: number | null;
  currentStep: string | null;
  error: { step: string | null; code: string; message: string } | null;
  createdAt: string;
  completedAt: string | null;
  failedAt: string | null;
}

const buy = (t: TestApp, userId: string, itemId: string) =>
  t.http.post('/purchase').send({ userId, itemId, quantity: 1 });

/** Choreography sagas are written directly: that engine does not take purchases yet. */
const CHOREOGRAPHY_ROWS = [
  // id, status, created_at, error_code
  ['CHO_A', 'completed', '2020-01-01T00:00:00Z', null],
  ['CHO_B', 'completed', '2020-01-02T00:00:00Z', null],
  ['CHO_C', 'compensated', '2020-01-03T00:00:00Z', 'INSUFFICIENT_STOCK'],
  ['CHO_D', 'failed', '2020-01-03T00:00:00Z', 'COMPENSATION_FAILED'],
  // Not finished long after SAGA_TIMEOUT_MS, leased to another instance: stuck.
  ['CHO_E', 'in_progress', '2020-01-04T00:00:00Z', null],
] as const;

async function insertChoreographySagas(t: TestApp): Promise<void> {
  for (const [id, status, createdAt, errorCode] of CHOREOGRAPHY_ROWS) {
    await t.db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, current_step, user_id, item_id,
         quantity, price, error_step, error_code, error_message, lease_owner, lease_expires_at,
         created_at, updated_at, completed_at, failed_at)
       VALUES ($1, 'choreography', $2::varchar, 'item_grant', 'user-choreo', 'item-potion', 2, 40.00,
         CASE WHEN $4::varchar IS NULL THEN NULL ELSE 'item_grant' END, $4::varchar,
         CASE WHEN $4::varchar IS NULL THEN NULL ELSE 'it went wrong' END,
         CASE WHEN $2::varchar = 'in_progress' THEN 'another-instance' END,
         CASE WHEN $2::varchar = 'in_progress' THEN now() + interval '1 day' END,
         $3::timestamptz, $3::timestamptz,
         CASE WHEN $2::varchar = 'completed' THEN $3::timestamptz + interval '2 seconds' END,
         CASE WHEN $2::varchar IN ('failed', 'compensated') THEN $3::timestamptz + interval '3 seconds' END)`,
      [id, status, createdAt, errorCode],
    );
  }
}

async function listAll(t: TestApp, query: string): Promise<Summary[]> {
  const res = await t.http.get(`/admin/sagas?${query}`).set(ADMIN).expect(200);
  return res.body.data as Summary[];
}

describe('Admin statistics and saga listing', () => {
  let t: TestApp;
  const completed: string[] = [];
  const failed: string[] = [];
  let compensated: string;

  beforeAll(async () => {
    t = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' });
    for (let i = 0; i < 3; i++) {
      const res = await buy(t, 'user-123', 'item-sword').expect(200);
      completed.push(res.body.transactionId);
    }
    for (let i = 0; i < 2; i++) {
      const res = await buy(t, 'user-456', 'item-sword').expect(409);
      failed.push(res.body.transactionId);
    }
    const res = await buy(t, 'user-123', 'item-out-of-stock').expect(409);
    expect(res.body.status).toBe('compensated');
    compensated = res.body.transactionId;
    await insertChoreographySagas(t);
  });

  afterAll(async () => {
    await t.close();
  });

  describe('GET /admin/statistics', () => {
    it('counts the sagas per status and per pattern, stuck ones, throughput and latency', async () => {
      const res = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
      expect(res.body.byPattern).toEqual({
        orchestration: {
          total: 6,
          pending: 0,
          inProgress: 0,
          completed: 3,
          failed: 2,
          compensating: 0,
          compensated: 1,
        },
        choreography: {
          total: 5,
          pending: 0,
          inProgress: 1,
          completed: 2,
          failed: 1,
          compensating: 0,
          compensated: 1,
        },
      });
      expect(res.body.statistics).toEqual({
        total: 11,
        pending: 0,
        inProgress: 1,
        completed: 5,
        failed: 3,
        compensating: 0,
        compensated: 2,
      });
      expect(res.body.stuck).toEqual({
        running: 1,
        compensationFailed: 1,
        total: 2,
        olderThanMs: 30_000,
      });
      // The six purchases of this test finished just now; the inserted sagas finished in 2020.
      // Windows are whole 10 s slots up to now: the last minute is 50 to 60 s of them.
      const { windowSeconds } = res.body.throughput;
      expect(windowSeconds).toBeGreaterThan(50);
      expect(windowSeconds).toBeLessThanOrEqual(60);
      expect(res.body.throughput).toEqual({
        windowSeconds,
        finished: 6,
        perSecond: Math.round((6 / windowSeconds) * 1000) / 1000,
      });
      expect(res.body.latency.windowSeconds).toBeGreaterThan(890);
      expect(res.body.latency.windowSeconds).toBeLessThanOrEqual(900);
      expect(Date.parse(res.body.asOf)).toBeLessThanOrEqual(Date.now());
      expect(res.body.latency.samples).toBe(6);
      expect(res.body.latency.p50Ms).toEqual(expect.any(Number));
      expect(res.body.latency.p50Ms).toBeGreaterThanOrEqual(0);
      expect(res.body.latency.p95Ms).toBeGreaterThanOrEqual(res.body.latency.p50Ms);
    });

    it('agrees with GET /sagas/stats', async () => {
      const admin = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
      const plain = await t.http.get('/sagas/stats').expect(200);
      expect(admin.body.statistics).toEqual(plain.body.statistics);
    });
  });

  describe('GET /admin/sagas', () => {
    it('lists every saga newest first, transaction id breaking ties, 20 per page by default', async () => {
      const res = await t.http.get('/admin/sagas').set(ADMIN).expect(200);
      expect(res.body).toMatchObject({
        total: 11,
        totalEstimated: false,
        page: 1,
        limit: 20,
        totalPages: 1,
      });
      const ids = (res.body.data as Summary[]).map((s) => s.transactionId);
      const expected = await t.db.query<{ transaction_id: string }>(
        'SELECT transaction_id FROM saga_states ORDER BY created_at DESC, transaction_id DESC',
      );
      expect(ids).toEqual(expected.rows.map((r) => r.transaction_id));
      // The two sagas created at the same instant: the larger id first.
      expect(ids.indexOf('CHO_D')).toBe(ids.indexOf('CHO_C') - 1);
      expect(ids.slice(-5)).toEqual(['CHO_E', 'CHO_D', 'CHO_C', 'CHO_B', 'CHO_A']);
      // The purchases of this test are newer than the inserted rows, latest first.
      expect(ids[0]).toBe(compensated);
    });

    it('shows each saga as a summary with the price as a number', async () => {
      const data = await listAll(t, 'limit=100');
      const sword = data.find((s) => s.transactionId === completed[0]);
      expect(sword).toMatchObject({
        status: 'completed',
        pattern: 'orchestration',
        userId: 'user-123',
        itemId: 'item-sword',
        quantity: 1,
        price: 100,
        currentStep: 'notification',
        error: null,
        failedAt: null,
      });
      expect(Date.parse(sword?.createdAt ?? '')).not.toBeNaN();
      expect(Date.parse(sword?.completedAt ?? '')).not.toBeNaN();
      const refused = data.find((s) => s.transactionId === failed[0]);
      expect(refused).toMatchObject({
        status: 'failed',
        userId: 'user-456',
        error: { step: 'user_validation', code: 'INSUFFICIENT_BALANCE' },
        completedAt: null,
      });
      expect(Date.parse(refused?.failedAt ?? '')).not.toBeNaN();
      expect(data.find((s) => s.transactionId === 'CHO_C')).toMatchObject({
        pattern: 'choreography',
        quantity: 2,
        price: 40,
        error: { step: 'item_grant', code: 'INSUFFICIENT_STOCK', message: 'it went wrong' },
      });
    });

    it('paginates: pages do not overlap and together list every saga once', async () => {
      const first = await t.http.get('/admin/sagas?limit=4').set(ADMIN).expect(200);
      expect(first.body).toMatchObject({ total: 11, page: 1, limit: 4, totalPages: 3 });
      const second = await t.http.get('/admin/sagas?limit=4&page=2').set(ADMIN).expect(200);
      expect(second.body).toMatchObject({ total: 11, page: 2, limit: 4, totalPages: 3 });
      const third = await t.http.get('/admin/sagas?limit=4&page=3').set(ADMIN).expect(200);
      expect(third.body.data).toHaveLength(3);
      const paged = [first, second, third].flatMap((r) =>
        (r.body.data as Summary[]).map((s) => s.transactionId),
      );
      const all = (await listAll(t, 'limit=100')).map((s) => s.transactionId);
      expect(paged).toEqual(all);
      expect(second.body.data.map((s: Summary) => s.transactionId)).toEqual(all.slice(4, 8));

      const beyond = await t.http.get('/admin/sagas?limit=4&page=9').set(ADMIN).expect(200);
      expect(beyond.body).toMatchObject({ data: [], total: 11, page: 9, totalPages: 3 });
    });

    it('lowers a limit above 100 to 100', async () => {
      const res = await t.http.get('/admin/sagas?limit=500').set(ADMIN).expect(200);
      expect(res.body).toMatchObject({ limit: 100, total: 11, totalPages: 1 });
      expect(res.body.data).toHaveLength(11);
    });

    it('filters by status', async () => {
      const res = await t.http.get('/admin/sagas?status=compensated').set(ADMIN).expect(200);
      expect(res.body.total).toBe(2);
      expect(res.body.data.map((s: Summary) => s.transactionId)).toEqual([compensated, 'CHO_C']);

      const failedRes = await t.http.get('/admin/sagas?status=failed&limit=2').set(ADMIN);
      expect(failedRes.body).toMatchObject({ total: 3, totalPages: 2 });
      expect(failedRes.body.data.map((s: Summary) => s.transactionId)).toEqual([
        failed[1],
        failed[0],
      ]);
      const none = await t.http.get('/admin/sagas?status=pending').set(ADMIN).expect(200);
      expect(none.body).toMatchObject({ data: [], total: 0, totalPages: 0 });
    });

    it('filters by user', async () => {
      const res = await t.http.get('/admin/sagas?userId=user-456').set(ADMIN).expect(200);
      expect(res.body.total).toBe(2);
      expect(res.body.data.map((s: Summary) => s.transactionId)).toEqual([failed[1], failed[0]]);
      const mine = await listAll(t, 'userId=user-123');
      expect(mine.map((s) => s.transactionId)).toEqual([compensated, ...[...completed].reverse()]);
    });

    it('filters by pattern', async () => {
      const res = await t.http.get('/admin/sagas?pattern=choreography').set(ADMIN).expect(200);
      expect(res.body.total).toBe(5);
      expect(res.body.data.map((s: Summary) => s.transactionId)).toEqual([
        'CHO_E',
        'CHO_D',
        'CHO_C',
        'CHO_B',
        'CHO_A',
      ]);
      const orchestrated = await t.http.get('/admin/sagas?pattern=orchestration').set(ADMIN);
      expect(orchestrated.body.total).toBe(6);
      expect(
        (orchestrated.body.data as Summary[]).every((s) => s.pattern === 'orchestration'),
      ).toBe(true);
    });

    it('filters by creation date, both bounds inclusive', async () => {
      const from = await t.http.get('/admin/sagas?dateFrom=2020-01-03').set(ADMIN).expect(200);
      // CHO_C, CHO_D (2020-01-03 00:00 exactly), CHO_E and the six purchases of today.
      expect(from.body.total).toBe(9);
      expect(from.body.data.slice(-3).map((s: Summary) => s.transactionId)).toEqual([
        'CHO_E',
        'CHO_D',
        'CHO_C',
      ]);

      const to = await t.http.get('/admin/sagas?dateTo=2020-01-02T00:00:00Z').set(ADMIN);
      expect(to.body.total).toBe(2);
      expect(to.body.data.map((s: Summary) => s.transactionId)).toEqual(['CHO_B', 'CHO_A']);

      const between = await listAll(
        t,
        'dateFrom=2020-01-01T12:00:00%2B00:00&dateTo=2020-01-03T00:00:00.000Z',
      );
      expect(between.map((s) => s.transactionId)).toEqual(['CHO_D', 'CHO_C', 'CHO_B']);

      const combined = await listAll(
        t,
        'pattern=choreography&status=completed&dateFrom=2020-01-02',
      );
      expect(combined.map((s) => s.transactionId)).toEqual(['CHO_B']);
    });

    it.each([
      ['page=abc', 'page'],
      ['page=0', 'page'],
      ['page=-1', 'page'],
      ['limit=0', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=', 'limit'],
      ['status=done', 'status'],
      ['status=failed&status=completed', 'status'],
      ['pattern=saga', 'pattern'],
      ['userId=bad%20id', 'userId'],
      ['dateFrom=yesterday', 'dateFrom'],
      ['dateFrom=2020-13-01', 'dateFrom'],
      ['dateTo=2020-02-30', 'dateTo'],
      ['dateTo=2020-01-01T10:00:00', 'dateTo'],
      ['dateFrom=2020-01-03&dateTo=2020-01-02', 'dateFrom must not be after dateTo'],
      ['sort=created_at', 'sort'],
    ])('refuses %s with 400 VALIDATION_FAILED', async (query, mentioned) => {
      const res = await t.http.get(`/admin/sagas?${query}`).set(ADMIN).expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, errorCode: 'VALIDATION_FAILED' });
      expect(res.body.message).toContain(mentioned);
    });
  });

  describe('GET /admin/db-metrics', () => {
    it("answers with the monitor's snapshot: connections, pool, table sizes, pg_stat_statements", async () => {
      const res = await t.http.get('/admin/db-metrics').set(ADMIN).expect(200);
      expect(res.body.schedule).toBe('0 */5 * * * *');
      const snapshot = res.body.snapshot;
      expect(snapshot).not.toBeNull();
      expect(Date.parse(snapshot.takenAt)).not.toBeNaN();
      expect(snapshot.durationMs).toBeGreaterThanOrEqual(0);
      // The monitor's own session was active while it read pg_stat_activity.
      expect(snapshot.connections.byState.active).toBeGreaterThanOrEqual(1);
      expect(snapshot.connections.total).toBeGreaterThanOrEqual(
        snapshot.connections.byState.active,
      );
      expect(snapshot.pool).toEqual({
        total: expect.any(Number),
        idle: expect.any(Number),
        waiting: expect.any(Number),
        max: 8,
      });
      expect(snapshot.pool.total).toBeGreaterThanOrEqual(1);

      const tables = snapshot.tables.map((table: { table: string }) => table.table);
      expect(tables).toEqual(
        expect.arrayContaining([
          'items',
          'migrations',
          'notifications',
          'saga_states',
          'saga_step_results',
          'transaction_logs',
          'users',
        ]),
      );
      const sizeOf = (name: string) =>
        snapshot.tables.find((table: { table: string }) => table.table === name);
      // The demo users were loaded before the first snapshot.
      expect(sizeOf('users').tableBytes).toBeGreaterThan(0);
      const sagas = sizeOf('saga_states');
      expect(sagas.indexBytes).toBeGreaterThan(0);
      expect(sagas.totalBytes).toBeGreaterThanOrEqual(sagas.tableBytes + sagas.indexBytes);
      expect(sagas.indexes.map((index: { name: string }) => index.name)).toEqual(
        expect.arrayContaining(['idx_saga_states_pattern_status', 'idx_saga_states_created_at']),
      );
      expect(snapshot.cacheHitRatio === null || snapshot.cacheHitRatio <= 1).toBe(true);

      const slow = snapshot.slowQueries;
      expect(typeof slow.available).toBe('boolean');
      expect(slow.thresholdMs).toBe(200);
      if (slow.available) {
        expect(slow.reason).toBeNull();
        expect(Array.isArray(slow.statements)).toBe(true);
      } else {
        expect(slow.reason).toEqual(expect.stringMatching(/pg_stat_statements|PostgreSQL 13/));
        expect(slow.statements).toEqual([]);
      }
    });
  });

  describe('admin token', () => {
    it.each(['/admin/statistics', '/admin/sagas', '/admin/sagas?page=2', '/admin/db-metrics'])(
      '%s answers 401 without the token or with a wrong one',
      async (path) => {
        const none = await t.http.get(path).expect(401);
        expect(none.body).toMatchObject({ statusCode: 401, errorCode: 'UNAUTHORIZED' });
        expect(none.body.data).toBeUndefined();
        await t.http.get(path).set('Authorization', 'Bearer wrong-token-0123456789').expect(401);
        await t.http.get(path).set('Authorization', 'Basic dGVzdA==').expect(401);
      },
    );

    it('checks the token before the query parameters', async () => {
      await t.http.get('/admin/sagas?page=abc').expect(401);
    });
  });
});

describe('Saga listing past the exact count', () => {
  let t: TestApp;
  /** The sagas of item-rare, open and settled, newest first. */
  let rare: string[];

  beforeAll(async () => {
    // Retention would remove these old sagas.
    t = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration', RETENTION_CRON: 'off' });
    // 10,050 settled sagas of item-bulk, a minute apart, and item-rare's, open and settled
    // sagas taking turns in time: its listing merges the two kinds newest first.
    await t.db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price,
         created_at, updated_at, completed_at, failed_at, lease_owner, lease_expires_at)
       SELECT 'BULK_' || lpad(i::text, 6, '0'), 'orchestration', 'completed', 'user-bulk',
              'item-bulk', 1, 1.00, t, t, t, NULL, NULL, NULL
         FROM generate_series(1, 10050) AS i,
              LATERAL (SELECT timestamptz '2021-01-01' + i * interval '1 minute' AS t) at
       UNION ALL
       SELECT 'RARE_' || lpad(i::text, 2, '0'), 'orchestration',
              (ARRAY['completed', 'in_progress', 'failed', 'pending', 'compensated', 'compensating'])[1 + i % 6],
              'user-bulk', 'item-rare', 1, 1.00, t, t,
              CASE WHEN i % 6 IN (0, 4) THEN t END, CASE WHEN i % 6 = 2 THEN t END,
              CASE WHEN i % 6 IN (1, 3, 5) THEN 'elsewhere' END,
              CASE WHEN i % 6 IN (1, 3, 5) THEN now() + interval '1 hour' END
         FROM generate_series(1, 30) AS i,
              LATERAL (SELECT timestamptz '2021-02-01' + (i / 2) * interval '1 hour' AS t) at`,
    );
    await t.db.query('ANALYZE saga_states');
    rare = (
      await t.db.query<{ transaction_id: string }>(
        `SELECT transaction_id FROM saga_states WHERE item_id = 'item-rare'
          ORDER BY created_at DESC, transaction_id DESC`,
      )
    ).rows.map((row) => row.transaction_id);
  });

  afterAll(async () => {
    await t.close();
  });

  it('answers an estimate of the total above 1,000 matches, and says so', async () => {
    const res = await t.http.get('/admin/sagas?limit=50').set(ADMIN).expect(200);
    expect(res.body.totalEstimated).toBe(true);
    expect(res.body.total).toBeGreaterThan(10_000);
    expect(res.body.totalPages).toBe(Math.ceil(res.body.total / 50));
    expect(res.body.data).toHaveLength(50);

    const byUser = await t.http.get('/admin/sagas?userId=user-bulk&limit=5').set(ADMIN);
    expect(byUser.body).toMatchObject({ totalEstimated: true });
    const few = await t.http.get('/admin/sagas?status=failed').set(ADMIN).expect(200);
    expect(few.body).toMatchObject({ total: 5, totalEstimated: false });
    const ranged = await t.http
      .get('/admin/sagas?dateFrom=2021-01-01&dateTo=2021-01-01T12:00:00Z&limit=5')
      .set(ADMIN)
      .expect(200);
    expect(ranged.body).toMatchObject({ total: 720, totalEstimated: false, totalPages: 144 });
  });

  it("lists an item's open and settled sagas together, newest first, by page and by cursor", async () => {
    expect(rare).toHaveLength(30);
    const all = await t.http.get('/admin/sagas?itemId=item-rare&limit=100').set(ADMIN).expect(200);
    expect(all.body).toMatchObject({ total: 30, totalEstimated: false });
    expect((all.body.data as Summary[]).map((s) => s.transactionId)).toEqual(rare);

    const numbered: string[] = [];
    for (let page = 1; page <= 4; page++) {
      const res = await t.http
        .get(`/admin/sagas?itemId=item-rare&limit=8&page=${page}`)
        .set(ADMIN)
        .expect(200);
      expect(res.body).toMatchObject({ total: 30, totalPages: 4 });
      numbered.push(...(res.body.data as Summary[]).map((s) => s.transactionId));
    }
    expect(numbered).toEqual(rare);

    const keyset: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const res = await t.http.get(`/admin/sagas?itemId=item-rare&limit=7${query}`).set(ADMIN);
      keyset.push(...(res.body.data as Summary[]).map((s) => s.transactionId));
      cursor = res.body.nextCursor as string | null;
    } while (cursor !== null);
    expect(keyset).toEqual(rare);

    const open = await listAll(t, 'itemId=item-rare&status=in_progress');
    expect(open.map((s) => s.transactionId)).toEqual(
      rare.filter((id) => Number(id.slice(5)) % 6 === 1),
    );
    // Open for years: stuck, whatever their lease.
    const stuck = await listAll(t, 'itemId=item-rare&status=stuck&limit=100');
    expect(stuck.map((s) => s.transactionId)).toEqual(
      rare.filter((id) => Number(id.slice(5)) % 2 === 1),
    );
  });
});
