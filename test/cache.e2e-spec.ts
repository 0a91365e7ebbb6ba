import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import Redis from 'ioredis';
import { register } from 'prom-client';
import { MemoryVersionedCache } from '../src/modules/cache/memory-versioned-cache';
import { RedisVersionedCache } from '../src/modules/cache/redis-versioned-cache';
import type { VersionedCache } from '../src/modules/cache/versioned-cache';
import { SagaRepository } from '../src/modules/saga/core/saga.repository';
import { SagaViewCache, viewVersion } from '../src/modules/saga/read-model/saga-view.cache';
import { holdStep, holdSteps } from './support/hold-step';
import { freePort, RedisServer } from './support/redis-server';
import { startTestApp, TestApp } from './support/test-app';

const SHARED_REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const newPrefix = () => `saga-cache-test:${randomBytes(6).toString('hex')}:`;
const sword = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };
const outOfStock = { userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 };

type Result = 'hit' | 'miss' | 'error';
async function cacheRequests(result: Result): Promise<number> {
  const metric = register.getSingleMetric('saga_cache_requests_total');
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

/** Deletes this test's keys from the shared Redis (never the others'). */
async function dropKeys(client: Redis, prefix: string): Promise<void> {
  const keys = await client.keys(`${prefix}*`);
  if (keys.length > 0) await client.del(...keys);
}

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, what: string) {
  for (let i = 0; i < 300; i++) {
    const value = await probe();
    if (done(value)) return value;
    await sleep(20);
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function readyRedisCache(url: string, prefix: string): Promise<RedisVersionedCache> {
  const cache = new RedisVersionedCache({
    url,
    keyPrefix: prefix,
    timeoutMs: 1000,
    floorTtlMs: 60_000,
  });
  await until(
    () => Promise.resolve(cache.status().status),
    (s) => s === 'up',
    'Redis',
  );
  return cache;
}

describe.each([
  ['in-process LRU', 'memory'],
  ['Redis', 'redis'],
] as const)('Compare-on-write (%s)', (_name, adapter) => {
  const prefix = newPrefix();
  let cache: VersionedCache;
  let admin: Redis | undefined;

  beforeAll(async () => {
    if (adapter === 'memory') {
      cache = new MemoryVersionedCache({ maxEntries: 1000, floorTtlMs: 60_000 });
    } else {
      cache = await readyRedisCache(SHARED_REDIS, prefix);
      admin = new Redis(SHARED_REDIS);
    }
  });

  afterAll(async () => {
    if (cache instanceof RedisVersionedCache) cache.onApplicationShutdown();
    if (admin !== undefined) {
      await dropKeys(admin, prefix);
      admin.disconnect();
    }
  });

  it('never replaces a newer version by an older one', async () => {
    expect(await cache.put('a', 2, 'two', 60_000)).toBe(2);
    expect(await cache.put('a', 1, 'one', 60_000)).toBe(2);
    expect(await cache.get('a')).toEqual({ version: 2, value: 'two' });
    expect(await cache.put('a', 3, 'three', 60_000)).toBe(3);
    expect(await cache.get('a')).toEqual({ version: 3, value: 'three' });
  });

  it('an invalidation leaves a floor: the older version is refused, the new one stored', async () => {
    await cache.put('b', 1, 'one', 60_000);
    await cache.invalidate('b', 2);
    expect(await cache.get('b')).toEqual({ version: 2 });
    expect(await cache.put('b', 1, 'one', 60_000)).toBe(2);
    expect(await cache.get('b')).toEqual({ version: 2 });
    expect(await cache.put('b', 2, 'two', 60_000)).toBe(2);
    expect(await cache.get('b')).toEqual({ version: 2, value: 'two' });
  });

  it('an invalidation older than the cached value leaves the value', async () => {
    await cache.put('c', 5, 'five', 60_000);
    await cache.invalidate('c', 3);
    expect(await cache.get('c')).toEqual({ version: 5, value: 'five' });
    await cache.invalidate('never-seen', 4);
    expect(await cache.put('never-seen', 3, 'three', 60_000)).toBe(4);
  });

  it('40 concurrent writers in random order leave the newest version', async () => {
    const versions = Array.from({ length: 40 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
    const held = await Promise.all(versions.map((v) => cache.put('d', v, `v${v}`, 60_000)));
    held.forEach((h, i) => expect(h).toBeGreaterThanOrEqual(versions[i]));
    expect(await cache.get('d')).toEqual({ version: 40, value: 'v40' });
  });

  it('a late reader racing an invalidation never leaves the old version behind', async () => {
    for (let i = 0; i < 20; i++) {
      const key = `race-${i}`;
      await cache.put(key, 1, 'old', 60_000);
      const racers = [cache.put(key, 1, 'old', 60_000), cache.invalidate(key, 2)];
      await Promise.all(i % 2 === 0 ? racers : racers.reverse());
      expect(await cache.get(key)).toEqual({ version: 2 });
    }
  });

  if (adapter === 'redis') {
    it('commands issued together share one socket write, each with its own answer', async () => {
      // Redis learns the scripts first, so that what follows is one round of commands.
      await Promise.all([
        cache.invalidate('shared-warm', 1),
        cache.put('shared-warm', 1, 'one', 60_000),
      ]);
      const write = jest.spyOn(Socket.prototype, 'write');
      let writes: number;
      try {
        await Promise.all([
          ...Array.from({ length: 50 }, (_, i) => cache.invalidate(`shared-${i}`, i + 1)),
          cache.put('shared-put', 7, 'seven', 60_000),
        ]);
        writes = write.mock.calls.length;
      } finally {
        write.mockRestore();
      }
      expect(writes).toBe(1);
      expect(await cache.get('shared-0')).toEqual({ version: 1 });
      expect(await cache.get('shared-49')).toEqual({ version: 50 });
      expect(await cache.get('shared-put')).toEqual({ version: 7, value: 'seven' });
    });

    it('stores entries under its own prefix only', async () => {
      const keys = await admin!.keys(`${prefix}*`);
      expect(keys).toEqual(expect.arrayContaining([`${prefix}a`, `${prefix}d`]));
      expect(await admin!.hget(`${prefix}a`, 'v')).toBe('3');
    });
  }
});

type Snapshot = { status: string; recorded: number };
const RANK: Record<string, number> = {
  pending: 0,
  in_progress: 1,
  compensating: 2,
  completed: 3,
  compensated: 3,
  failed: 3,
};

/** Polls GET /saga/:id until `final`, returning what each read showed (each also to `onRead`). */
async function pollSaga(
  t: TestApp,
  id: string,
  final: string,
  onRead: (seen: Snapshot[]) => void = () => undefined,
): Promise<Snapshot[]> {
  const seen: Snapshot[] = [];
  for (let i = 0; i < 400; i++) {
    const res = await t.http.get(`/saga/${id}`).expect(200);
    const saga = res.body.saga;
    seen.push({ status: saga.status, recorded: saga.steps.length + saga.compensations.length });
    onRead(seen);
    if (saga.status === final) return seen;
    await sleep(5);
  }
  throw new Error(`Saga ${id} did not reach ${final}; last ${JSON.stringify(seen.at(-1))}`);
}

function expectNeverBackwards(seen: Snapshot[]): void {
  for (let i = 1; i < seen.length; i++) {
    expect(RANK[seen[i].status]).toBeGreaterThanOrEqual(RANK[seen[i - 1].status]);
    expect(seen[i].recorded).toBeGreaterThanOrEqual(seen[i - 1].recorded);
  }
}

/**
 * Holds this saga's change events on their way to the cache (the invalidations land only when
 * the test lets them), to show what a client is answered while they are on their way.
 */
function delayInvalidations(t: TestApp, id: () => string): () => void {
  const views = t.app.get(SagaViewCache, { strict: false });
  const onSagaChanged = views.onSagaChanged.bind(views);
  let land!: () => void;
  const landed = new Promise<void>((resolve) => (land = resolve));
  const spy = jest.spyOn(views, 'onSagaChanged').mockImplementation(async (event) => {
    if (event.transactionId === id()) await landed;
    return onSagaChanged(event);
  });
  return () => {
    land();
    spy.mockRestore();
  };
}

/** Reads the saga until a read is answered from the cache, so that it holds this state. */
async function cacheState(t: TestApp, id: string): Promise<Snapshot> {
  const hits = await cacheRequests('hit');
  const res = await until(
    async () => ({
      res: await t.http.get(`/saga/${id}`).expect(200),
      hits: await cacheRequests('hit'),
    }),
    (read) => read.hits > hits,
    'a cached read',
  );
  const saga = res.res.body.saga;
  return { status: saga.status, recorded: saga.steps.length + saga.compensations.length };
}

/**
 * A purchase answered `answer` (of saga `id`) after `cached` was cached: it shows a newer state,
 * and the read that follows shows no older one than either.
 */
async function expectNoOlderRead(
  t: TestApp,
  id: string,
  cached: Snapshot,
  answer: { transactionId: string; status: string; completedSteps: string[] },
): Promise<void> {
  expect(answer.transactionId).toBe(id);
  const answered: Snapshot = { status: answer.status, recorded: answer.completedSteps.length };
  expect(answered.recorded).toBeGreaterThan(cached.recorded);
  const after = (await t.http.get(`/saga/${id}`).expect(200)).body.saga;
  expectNeverBackwards([
    cached,
    answered,
    { status: after.status, recorded: after.steps.length + after.compensations.length },
  ]);
}

async function dbStatus(t: TestApp, id: string): Promise<string> {
  const { rows } = await t.db.query<{ status: string }>(
    'SELECT status FROM saga_states WHERE transaction_id = $1',
    [id],
  );
  return rows[0].status;
}

describe.each([
  ['Redis', 'redis', 'orchestration'],
  ['Redis', 'redis', 'choreography'],
  ['the in-process LRU (no REDIS_URL)', 'memory', 'orchestration'],
  ['the in-process LRU (no REDIS_URL)', 'memory', 'choreography'],
] as const)('GET /saga/:id read through %s (%s), %s sagas', (_name, adapter, pattern) => {
  const prefix = newPrefix();
  let t: TestApp;
  let admin: Redis | undefined;

  beforeAll(async () => {
    t = await startTestApp({
      ...(adapter === 'redis' ? { REDIS_URL: SHARED_REDIS } : {}),
      CACHE_KEY_PREFIX: prefix,
      SAGA_PATTERN_MODE: pattern,
      // In-flight states stay cached long here: only invalidation can make a new state visible.
      CACHE_INFLIGHT_TTL_MS: '60000',
    });
    if (adapter === 'redis') {
      admin = new Redis(SHARED_REDIS);
      await until(
        () => t.http.get('/health').then((r) => r.body.details.cache.status as string),
        (s) => s === 'up',
        'the cache',
      );
    }
  });

  afterAll(async () => {
    await t.close();
    if (admin !== undefined) {
      await dropKeys(admin, prefix);
      admin.disconnect();
    }
  });

  it('/health reports the cache adapter', async () => {
    const res = await t.http.get('/health').expect(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      info: { cache: { status: 'up', adapter } },
      details: { database: { status: 'up' }, cache: { status: 'up', adapter } },
    });
  });

  it('polling an async purchase shows every transition, never an older state, and ends completed', async () => {
    const hits = await cacheRequests('hit');
    // item_grant is held until the in-flight state has been read twice.
    const hold = holdStep(t, 'item_grant');
    let seen: Snapshot[];
    let id: string;
    try {
      const res = await t.http
        .post('/purchase')
        .set('Prefer', 'respond-async')
        .send(sword)
        .expect(202);
      id = res.body.transactionId as string;
      seen = await pollSaga(t, id, 'completed', (reads) => {
        if (reads.filter((s) => s.status === 'in_progress').length === 2) hold.release();
      });
    } finally {
      hold.restore();
    }
    expectNeverBackwards(seen);
    expect(seen.some((s) => s.status === 'in_progress')).toBe(true);
    // The in-flight state was served from the cache while the slow step ran.
    expect(await cacheRequests('hit')).toBeGreaterThan(hits);

    const after = await t.http.get(`/saga/${id}`).expect(200);
    expect(after.body.saga).toMatchObject({ status: 'completed', currentStep: 'notification' });
    expect(after.body.saga.steps.map((s: { step: string }) => s.step)).toEqual([
      'user_validation',
      'item_grant',
      'log_record',
      'notification',
    ]);
  });

  it('an in-flight state read just before the saga completes is not served afterwards', async () => {
    const hold = holdStep(t, 'item_grant');
    let id: string;
    try {
      const res = await t.http
        .post('/purchase')
        .set('Prefer', 'respond-async')
        .send(sword)
        .expect(202);
      id = res.body.transactionId as string;
      await hold.reached;
      // Read (and cached) while the saga is held in flight.
      expect((await t.http.get(`/saga/${id}`).expect(200)).body.saga.status).toBe('in_progress');
    } finally {
      hold.restore();
    }
    await until(
      () => dbStatus(t, id),
      (s) => s === 'completed',
      'completion in the database',
    );
    const res2 = await t.http.get(`/saga/${id}`).expect(200);
    expect(res2.body.saga.status).toBe('completed');
    expect(res2.body.saga.completedAt).toBeDefined();
  });

  it('a purchase answered 202 from the database is never followed by an older state from the cache', async () => {
    const key = `ahead-of-cache-${randomBytes(6).toString('hex')}`;
    const [grant, log] = holdSteps(t, 'item_grant', 'log_record');
    let id = '';
    const landInvalidations = delayInvalidations(t, () => id);
    try {
      const res = await t.http
        .post('/purchase')
        .set('Prefer', 'respond-async')
        .set('Idempotency-Key', key)
        .send(sword)
        .expect(202);
      id = res.body.transactionId as string;
      await grant.reached;
      const cached = await cacheState(t, id);
      // item_grant commits; its invalidation is on its way to the cache; log_record is held.
      grant.release();
      await log.reached;
      const shown = await t.http
        .post('/purchase')
        .set('Prefer', 'respond-async')
        .set('Idempotency-Key', key)
        .send(sword)
        .expect(202);
      await expectNoOlderRead(t, id, cached, shown.body);
    } finally {
      landInvalidations();
      log.restore();
    }
    await until(
      () => dbStatus(t, id),
      (s) => s === 'completed',
      'completion in the database',
    );
  });

  it('a replayed purchase answered from the database is never followed by an older state from the cache', async () => {
    const key = `replay-ahead-of-cache-${randomBytes(6).toString('hex')}`;
    const hold = holdStep(t, 'item_grant');
    let id = '';
    const landInvalidations = delayInvalidations(t, () => id);
    try {
      const res = await t.http
        .post('/purchase')
        .set('Prefer', 'respond-async')
        .set('Idempotency-Key', key)
        .send(sword)
        .expect(202);
      id = res.body.transactionId as string;
      await hold.reached;
      expect((await cacheState(t, id)).status).toBe('in_progress');
      // The saga ends in the database; none of its changes has reached the cache yet.
      hold.release();
      await until(
        () => dbStatus(t, id),
        (s) => s === 'completed',
        'completion in the database',
      );
      const replayed = await t.http
        .post('/purchase')
        .set('Idempotency-Key', key)
        .send(sword)
        .expect(200);
      expect(replayed.body).toMatchObject({ transactionId: id, status: 'completed' });
      const after = await t.http.get(`/saga/${id}`).expect(200);
      expect(after.body.saga).toMatchObject({ status: 'completed', currentStep: 'notification' });
    } finally {
      landInvalidations();
      hold.restore();
    }
  });

  it('a compensated saga: reads follow the compensation and end compensated', async () => {
    // The compensation is held until a read has shown it under way.
    const hold = holdStep(t, 'compensation:user_validation');
    let seen: Snapshot[];
    let id: string;
    try {
      const res = await t.http
        .post('/purchase')
        .set('Prefer', 'respond-async')
        .send(outOfStock)
        .expect(202);
      id = res.body.transactionId as string;
      seen = await pollSaga(t, id, 'compensated', (reads) => {
        if (reads.at(-1)?.status === 'compensating') hold.release();
      });
    } finally {
      hold.restore();
    }
    expectNeverBackwards(seen);
    expect(seen.some((s) => s.status === 'compensating')).toBe(true);
    const after = await t.http.get(`/saga/${id}`).expect(200);
    expect(after.body.saga).toMatchObject({
      status: 'compensated',
      error: { step: 'item_grant', code: 'INSUFFICIENT_STOCK' },
    });
    expect(after.body.saga.compensations).toEqual([
      expect.objectContaining({ step: 'user_validation', status: 'success' }),
    ]);
  });

  it('a settled saga is served from the cache, identical to the database read', async () => {
    const res = await t.http.post('/purchase').send(sword).expect(200);
    const id = res.body.transactionId as string;
    const hits = await cacheRequests('hit');
    const first = await t.http.get(`/saga/${id}`).expect(200);
    const second = await t.http.get(`/saga/${id}`).expect(200);
    expect(second.body).toEqual(first.body);
    expect(second.text).toBe(first.text);
    expect(second.headers['content-type']).toMatch(/^application\/json/);
    expect(second.body).toMatchObject({ found: true, saga: { transactionId: id } });
    expect(await cacheRequests('hit')).toBe(hits + 1);
    if (admin !== undefined) {
      // Cached at the row version it was read at (and its notification's revision within it).
      const { rows } = await t.db.query<{ version: number; revision: number | null }>(
        `SELECT s.version, (SELECT n.revision FROM notifications n
                            WHERE n.transaction_id = s.transaction_id) AS revision
         FROM saga_states s WHERE s.transaction_id = $1`,
        [id],
      );
      expect(await admin.hget(`${prefix}saga:${id}`, 'v')).toBe(
        String(viewVersion(rows[0].version, rows[0].revision ?? 0)),
      );
    }
  });

  it('a stampede of reads of one uncached saga loads it from the database once', async () => {
    const res = await t.http.post('/purchase').send(sword).expect(200);
    const id = res.body.transactionId as string;
    const repository = t.app.get(SagaRepository, { strict: false });
    const findWithSteps = repository.findWithSteps.bind(repository);
    const misses = await cacheRequests('miss');
    // The load is held until every read has missed the cache (each miss joins the running load
    // in the same turn), so all 20 are waiting on the database at once.
    const spy = jest.spyOn(repository, 'findWithSteps').mockImplementation(async (txn: string) => {
      await until(
        () => cacheRequests('miss'),
        (n) => n >= misses + 20,
        'every read to miss the cache',
      );
      return findWithSteps(txn);
    });
    try {
      const reads = await Promise.all(Array.from({ length: 20 }, () => t.http.get(`/saga/${id}`)));
      expect(reads.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(new Set(reads.map((r) => JSON.stringify(r.body))).size).toBe(1);
      expect(reads[0].body.saga.status).toBe('completed');
      expect(spy.mock.calls.filter(([txn]) => txn === id)).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('an unknown saga is 404 and is not cached', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await t.http.get('/saga/TXN_unknown').expect(404);
      expect(res.body).toMatchObject({ found: false, errorCode: 'SAGA_NOT_FOUND' });
    }
  });

  if (adapter === 'redis') {
    it('garbage in Redis is counted, answered from the database, and replaced', async () => {
      const res = await t.http.post('/purchase').send(sword).expect(200);
      const id = res.body.transactionId as string;
      const key = `${prefix}saga:${id}`;
      const good = (await t.http.get(`/saga/${id}`).expect(200)).body;

      await admin!.hset(key, 'd', '{"transactionId": truncated');
      let errors = await cacheRequests('error');
      expect((await t.http.get(`/saga/${id}`).expect(200)).body).toEqual(good);
      expect(await cacheRequests('error')).toBe(errors + 1);

      await admin!.del(key);
      await admin!.set(key, 'not a hash');
      expect((await t.http.get(`/saga/${id}`).expect(200)).body).toEqual(good);

      errors = await cacheRequests('error');
      const hits = await cacheRequests('hit');
      expect((await t.http.get(`/saga/${id}`).expect(200)).body).toEqual(good);
      expect(await cacheRequests('hit')).toBe(hits + 1);
      expect(await cacheRequests('error')).toBe(errors);
    });
  }
});

describe.each(['orchestration', 'choreography'] as const)(
  'A purchase whose wait runs out (%s sagas)',
  (pattern) => {
    const prefix = newPrefix();
    let t: TestApp;
    let admin: Redis;

    beforeAll(async () => {
      t = await startTestApp({
        REDIS_URL: SHARED_REDIS,
        CACHE_KEY_PREFIX: prefix,
        SAGA_PATTERN_MODE: pattern,
        CACHE_INFLIGHT_TTL_MS: '60000',
        PURCHASE_WAIT_MS: '300',
      });
      admin = new Redis(SHARED_REDIS);
      await until(
        () => t.http.get('/health').then((r) => r.body.details.cache.status as string),
        (s) => s === 'up',
        'the cache',
      );
    });

    afterAll(async () => {
      await t.close();
      await dropKeys(admin, prefix);
      admin.disconnect();
    });

    it('is answered 202 as the database has it, and no older state is read after it', async () => {
      const [grant, log] = holdSteps(t, 'item_grant', 'log_record');
      let id = '';
      const landInvalidations = delayInvalidations(t, () => id);
      try {
        const answer = t.http
          .post('/purchase')
          .send(sword)
          .then((res) => res);
        // The purchase's answer is under way (it waits for the saga); its saga id, from the database.
        await grant.reached;
        const { rows } = await t.db.query<{ transaction_id: string }>(
          `SELECT transaction_id FROM saga_states WHERE status = 'in_progress' ORDER BY created_at DESC LIMIT 1`,
        );
        id = rows[0].transaction_id;
        const cached = await cacheState(t, id);
        grant.release();
        await log.reached;
        const shown = await answer;
        expect(shown.status).toBe(202);
        await expectNoOlderRead(t, id, cached, shown.body);
      } finally {
        landInvalidations();
        log.restore();
      }
      await until(
        () => dbStatus(t, id),
        (s) => s === 'completed',
        'completion in the database',
      );
    });
  },
);

describe('Redis killed and restarted under a running service', () => {
  let redis: RedisServer;
  let t: TestApp;
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;
  const messages = (spy: jest.SpyInstance, text: string) =>
    spy.mock.calls.filter(([message]) => String(message).includes(text)).length;
  const cacheStatus = () =>
    t.http
      .get('/health')
      .expect(200)
      .then((r) => r.body.details.cache.status as string);

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    warn = jest.spyOn(Logger.prototype, 'warn');
    log = jest.spyOn(Logger.prototype, 'log');
    t = await startTestApp({ REDIS_URL: redis.url, CACHE_TIMEOUT_MS: '100' });
    await until(cacheStatus, (s) => s === 'up', 'the cache');
  });

  afterAll(async () => {
    await redis.kill();
    await t?.close();
    warn.mockRestore();
    log.mockRestore();
  });

  it('keeps answering from the database while Redis is gone, and uses it again once it is back', async () => {
    const before = await t.http.post('/purchase').send(sword).expect(200);
    const oldId = before.body.transactionId as string;
    const oldSaga = (await t.http.get(`/saga/${oldId}`).expect(200)).body;
    let hits = await cacheRequests('hit');
    expect((await t.http.get(`/saga/${oldId}`).expect(200)).body).toEqual(oldSaga);
    expect(await cacheRequests('hit')).toBe(hits + 1);

    await redis.kill();
    await until(cacheStatus, (s) => s === 'down', 'the cache to be reported down');
    const health = await t.http.get('/health').expect(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, cache: { status: 'down', adapter: 'redis' } },
    });

    const errors = await cacheRequests('error');
    expect((await t.http.get(`/saga/${oldId}`).expect(200)).body).toEqual(oldSaga);
    const during = await t.http.post('/purchase').send(sword).expect(200);
    expect(during.body).toMatchObject({
      success: true,
      status: 'completed',
      completedSteps: ['user_validation', 'item_grant', 'log_record', 'notification'],
    });
    const newId = during.body.transactionId as string;
    const refused = await t.http.post('/purchase').send(outOfStock).expect(409);
    expect(refused.body).toMatchObject({ errorCode: 'INSUFFICIENT_STOCK', status: 'compensated' });
    for (let i = 0; i < 5; i++) {
      const saga = (await t.http.get(`/saga/${newId}`).expect(200)).body.saga;
      expect(saga).toMatchObject({ transactionId: newId, status: 'completed' });
    }
    await t.http.get('/saga/TXN_missing').expect(404);
    expect(await cacheRequests('error')).toBeGreaterThan(errors);
    expect(messages(warn, 'Redis cache unavailable')).toBe(1);

    await redis.start();
    await until(cacheStatus, (s) => s === 'up', 'the cache to be reported up again');
    expect(messages(log, 'Redis cache is available again')).toBe(1);
    const newSaga = (await t.http.get(`/saga/${newId}`).expect(200)).body;
    expect(newSaga.saga.status).toBe('completed');
    hits = await cacheRequests('hit');
    expect((await t.http.get(`/saga/${newId}`).expect(200)).body).toEqual(newSaga);
    expect(await cacheRequests('hit')).toBe(hits + 1);
    const client = new Redis(redis.url);
    try {
      expect(await client.exists(`purchase-saga:saga:${newId}`)).toBe(1);
    } finally {
      client.disconnect();
    }
  });

  it('a frozen Redis (no answers) is timed out: reads and purchases still answer, then it recovers', async () => {
    const before = await t.http.post('/purchase').send(sword).expect(200);
    const id = before.body.transactionId as string;
    const saga = (await t.http.get(`/saga/${id}`).expect(200)).body;

    redis.signal('SIGSTOP');
    try {
      const errors = await cacheRequests('error');
      expect((await t.http.get(`/saga/${id}`).expect(200)).body).toEqual(saga);
      expect(await cacheRequests('error')).toBe(errors + 1);
      const during = await t.http.post('/purchase').send(sword).expect(200);
      expect(during.body).toMatchObject({ success: true, status: 'completed' });
      const fresh = await t.http.get(`/saga/${during.body.transactionId}`).expect(200);
      expect(fresh.body.saga.status).toBe('completed');
      expect(await cacheStatus()).toBe('down');
    } finally {
      redis.signal('SIGCONT');
    }
    await until(cacheStatus, (s) => s === 'up', 'the cache to answer again');
    const hits = await cacheRequests('hit');
    await t.http.get(`/saga/${id}`).expect(200);
    await t.http.get(`/saga/${id}`).expect(200);
    expect(await cacheRequests('hit')).toBeGreaterThan(hits);
  });
});

describe('Redis refusing writes', () => {
  let redis: RedisServer;
  let admin: Redis;
  let cache: RedisVersionedCache;

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    admin = new Redis(redis.url);
    cache = await readyRedisCache(redis.url, newPrefix());
  });

  afterAll(async () => {
    cache?.onApplicationShutdown();
    admin?.disconnect();
    await redis?.kill();
  });

  it('a missed invalidation stays enforced after a lower one succeeds', async () => {
    expect(await cache.put('k', 4, 'four', 60_000)).toBe(4);
    // Without a replica Redis refuses every write, so the floor of 5 can reach it by no path.
    await admin.config('SET', 'min-replicas-to-write', '1');
    await expect(cache.invalidate('k', 5)).rejects.toThrow('NOREPLICAS');
    await until(
      () => cache.probe(),
      (s) => s.status === 'up',
      'the cache to come back after its failure',
    );
    expect(await cache.get('k')).toEqual({ version: 5 });
    // Redis holds 4 > 3, so this one writes nothing and succeeds.
    await cache.invalidate('k', 3);
    expect(await cache.get('k')).toEqual({ version: 5 });
    expect(await cache.put('k', 4, 'four', 60_000)).toBe(5);
  });
});

describe('Redis frozen under the cache adapter', () => {
  let redis: RedisServer;
  let cache: RedisVersionedCache;

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    cache = await readyRedisCache(redis.url, newPrefix());
  });

  afterAll(async () => {
    cache?.onApplicationShutdown();
    redis?.signal('SIGCONT');
    await redis?.kill();
  });

  it('fails each unanswered command once its own deadline, counted from its call, has passed', async () => {
    // A controllable clock: each deadline is checked to the millisecond, before and at it, whatever
    // the machine's load. Redis, frozen, really never answers; the socket and I/O stay real.
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask'],
    });
    try {
      redis.signal('SIGSTOP');
      const outcome = (call: Promise<unknown>) => {
        const seen: { error?: unknown; answered: boolean } = { answered: false };
        call.then(
          () => (seen.answered = true),
          (error: unknown) => (seen.error = error),
        );
        return seen;
      };
      // Lets the commands be written (ioredis pipelines on setImmediate) and their outcomes land.
      const settle = async () => {
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      };
      const pending = (seen: { error?: unknown; answered: boolean }) =>
        !seen.answered && seen.error === undefined;
      const timedOut = (seen: { error?: unknown; answered: boolean }) =>
        String(seen.error).includes('Command timed out');

      const a = outcome(cache.get('a'));
      await settle();
      await jest.advanceTimersByTimeAsync(300);
      const b = outcome(cache.invalidate('b', 1));
      await settle();
      // The adapter's timeout is 1,000 ms: neither fails before its own deadline.
      await jest.advanceTimersByTimeAsync(699);
      await settle();
      expect(pending(a)).toBe(true);
      expect(pending(b)).toBe(true);
      await jest.advanceTimersByTimeAsync(1);
      await settle();
      expect(timedOut(a)).toBe(true);
      expect(pending(b)).toBe(true);
      await jest.advanceTimersByTimeAsync(299);
      await settle();
      expect(pending(b)).toBe(true);
      // The second is written only once the first is answered (auto-pipelining), so ioredis's own
      // timeout would fail it 1,000 ms after that; its deadline, 1,000 ms after its call, is now.
      await jest.advanceTimersByTimeAsync(1);
      await settle();
      expect(timedOut(b)).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('Invalidations issued together', () => {
  let redis: RedisServer;
  let admin: Redis;
  let cache: RedisVersionedCache;
  const evalCalls = async () => {
    const stats = await admin.info('commandstats');
    const calls = (command: string) =>
      Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    return calls('evalsha') + calls('eval');
  };

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    admin = new Redis(redis.url);
    cache = await readyRedisCache(redis.url, 'together:');
  });

  afterAll(async () => {
    cache?.onApplicationShutdown();
    admin?.disconnect();
    await redis?.kill();
  });

  it('leave as one command, each key keeping the higher of its version and its floor', async () => {
    await cache.put('lower', 4, 'four', 60_000);
    await cache.put('higher', 4, 'four', 60_000);
    await admin.set('together:garbage', 'not a hash');
    const before = await evalCalls();
    await Promise.all([
      cache.invalidate('lower', 5),
      cache.invalidate('higher', 3),
      cache.invalidate('garbage', 2),
      cache.invalidate('fresh', 7),
    ]);
    expect((await evalCalls()) - before).toBe(1);
    expect(await cache.get('lower')).toEqual({ version: 5 });
    expect(await cache.get('higher')).toEqual({ version: 4, value: 'four' });
    expect(await cache.get('garbage')).toEqual({ version: 2 });
    expect(await cache.get('fresh')).toEqual({ version: 7 });
  });

  it('that Redis refuses each fail, and are enforced here until Redis takes them', async () => {
    await cache.put('a', 1, 'one', 60_000);
    await admin.config('SET', 'min-replicas-to-write', '1');
    const outcomes = await Promise.allSettled([cache.invalidate('a', 2), cache.invalidate('b', 3)]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    await until(
      () => cache.probe(),
      (s) => s.status === 'up',
      'the cache to come back after its failure',
    );
    expect(await cache.get('a')).toEqual({ version: 2 });
    expect(await cache.get('b')).toEqual({ version: 3 });
    expect(await cache.put('a', 1, 'one', 60_000)).toBe(2);
  });
});
