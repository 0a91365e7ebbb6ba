import { ThrottlerStorage } from '@nestjs/throttler';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import Redis from 'ioredis';
import type { Response } from 'supertest';
import { RedisThrottlerStorage } from '../src/modules/rate-limit/redis-throttler-storage';
import { freePort, RedisServer } from './support/redis-server';
import { ADMIN, startTestApp, TestApp } from './support/test-app';

const SHARED_REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const newPrefix = () => `rate-limit-test:${randomBytes(6).toString('hex')}:`;
const sword = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };
const REPORTS = [
  '/sagas/stats',
  '/choreography/stats',
  '/patterns/comparison',
  '/choreography/user/user-123/history',
  '/logs/user-123',
];
// Windows of a minute: no budget starts afresh while a test runs.
const BUDGETS = { RATE_LIMIT_REPORTS: '3/1m', RATE_LIMIT_PUBLIC: '5/1m' };

/** A 429 as the contract has it: RATE_LIMITED, Retry-After in whole seconds, the error body. */
function expectLimited(res: Pick<Response, 'status' | 'headers' | 'body'>): void {
  expect(res.status).toBe(429);
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.body).toEqual({
    statusCode: 429,
    errorCode: 'RATE_LIMITED',
    message: expect.stringMatching(/^Too many .*requests from this client; retry in \d+ s$/),
  });
}

async function sagaCount(t: TestApp): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM saga_states');
  return rows[0].n;
}

/** Waits until the app's limiter counts in Redis (it connects on its own, after the start). */
async function sharedCounts(t: TestApp): Promise<void> {
  const storage = t.app.get<RedisThrottlerStorage>(ThrottlerStorage);
  expect(storage).toBeInstanceOf(RedisThrottlerStorage);
  for (let i = 0; i < 300 && !storage.shared; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(storage.shared).toBe(true);
}

async function dropKeys(prefix: string): Promise<void> {
  const client = new Redis(SHARED_REDIS);
  try {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  } finally {
    client.disconnect();
  }
}

describe('Rate limits per client, counted in Redis', () => {
  const prefix = newPrefix();
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      ...BUDGETS,
      REDIS_URL: SHARED_REDIS,
      CACHE_KEY_PREFIX: prefix,
      TRUST_PROXY: 'true',
    });
    await sharedCounts(t);
  });

  afterAll(async () => {
    await t.close();
    await dropKeys(prefix);
  });

  it('answers the reports under their budget, then 429 RATE_LIMITED on every report route', async () => {
    for (const url of REPORTS.slice(0, 3)) await t.http.get(url).expect(200);
    for (const url of REPORTS) expectLimited(await t.http.get(url));
    const client = new Redis(SHARED_REDIS);
    try {
      // One count per client and class, whatever the route, under the cache's key prefix.
      expect(await client.hget(`${prefix}ratelimit:reports:127.0.0.1`, 'n')).toBe('4');
    } finally {
      client.disconnect();
    }
  });

  it('keeps the public budget apart: purchases go on, until their own budget is spent', async () => {
    const before = await sagaCount(t);
    const bought = await t.http.post('/purchase').send(sword).expect(200);
    await t.http.get(`/saga/${bought.body.transactionId}`).expect(200);
    await t.http.get('/items').expect(200);
    await t.http.get('/users/user-123').expect(200);
    await t.http.get(`/choreography/transaction/${bought.body.transactionId}`).expect(200);
    expect(await sagaCount(t)).toBe(before + 1);

    // A refused purchase starts nothing and charges nothing.
    expectLimited(await t.http.get('/users/user-123'));
    expectLimited(await t.http.post('/purchase').send(sword));
    expectLimited(await t.http.post('/purchase/choreography').send(sword));
    // Refused before validation: a bad body is not looked at either.
    expectLimited(await t.http.post('/purchase').send({ bogus: true }));
    expectLimited(await t.http.get('/items/item-sword'));
    expect(await sagaCount(t)).toBe(before + 1);
    const { rows } = await t.db.query<{ balance: string }>(
      "SELECT balance FROM users WHERE user_id = 'user-123'",
    );
    expect(Number(rows[0].balance)).toBe(900);
  });

  it('never limits admin routes, health, metrics, the API docs or the console', async () => {
    expectLimited(await t.http.get('/sagas/stats'));
    for (let i = 0; i < 10; i++) {
      await t.http.get('/admin/statistics').set(ADMIN).expect(200);
      await t.http.get('/config/saga-mode').set(ADMIN).expect(200);
      await t.http.get('/health').expect(200);
      await t.http.get('/metrics').expect(200);
      await t.http.get('/docs/json').expect(200);
    }
    // Without a token an admin route is refused by its own guard, not by a budget.
    await t.http.get('/admin/sagas').expect(401);
    expect((await t.http.get('/console/')).status).not.toBe(429);
  });

  it('documents the 429 on the limited routes only', async () => {
    const { paths } = (await t.http.get('/docs/json').expect(200)).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(paths['/sagas/stats'].get.responses['429']).toBeDefined();
    expect(paths['/purchase'].post.responses['429']).toBeDefined();
    expect(paths['/items/{itemId}'].get.responses['429']).toBeDefined();
    expect(paths['/admin/statistics'].get.responses['429']).toBeUndefined();
    expect(paths['/config/saga-mode'].get.responses['429']).toBeUndefined();
    expect(paths['/health'].get.responses['429']).toBeUndefined();
  });

  it('counts the refusals per class in /metrics', async () => {
    const text = (await t.http.get('/metrics').expect(200)).text;
    for (const budget of ['reports', 'public']) {
      const line = new RegExp(`^http_rate_limited_total\\{class="${budget}"\\} (\\d+)$`, 'm');
      expect(Number(line.exec(text)?.[1])).toBeGreaterThanOrEqual(3);
    }
  });

  it('behind a trusted proxy, each X-Forwarded-For client has its own budget', async () => {
    expectLimited(await t.http.get('/sagas/stats'));
    const other = { 'X-Forwarded-For': '203.0.113.9' };
    for (let i = 0; i < 3; i++) await t.http.get('/sagas/stats').set(other).expect(200);
    expectLimited(await t.http.get('/sagas/stats').set(other));
    await t.http.get('/sagas/stats').set({ 'X-Forwarded-For': '203.0.113.10' }).expect(200);
  });
});

describe('Rate limits shared by two instances through Redis', () => {
  const prefix = newPrefix();
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const env = {
      RATE_LIMIT_REPORTS: '4/1m',
      RATE_LIMIT_PUBLIC: 'off',
      REDIS_URL: SHARED_REDIS,
      CACHE_KEY_PREFIX: prefix,
    };
    a = await startTestApp(env);
    b = await startTestApp({ ...env, INSTANCE_ID: 'rate-limit-b' }, a.database);
    await Promise.all([sharedCounts(a), sharedCounts(b)]);
  });

  afterAll(async () => {
    await b.stop();
    await a.close();
    await dropKeys(prefix);
  });

  it("one client's budget is spent across both", async () => {
    await a.http.get('/sagas/stats').expect(200);
    await b.http.get('/sagas/stats').expect(200);
    await a.http.get('/choreography/stats').expect(200);
    await b.http.get('/logs/user-123').expect(200);
    expectLimited(await a.http.get('/sagas/stats'));
    expectLimited(await b.http.get('/sagas/stats'));
    // RATE_LIMIT_PUBLIC=off: that class is not limited at all.
    for (let i = 0; i < 20; i++) await b.http.get('/items').expect(200);
  });
});

describe('Refusals held back', () => {
  let t: TestApp;
  let base: string;
  // Kept-alive connections, as a client hammering the service would hold them.
  const agent = new http.Agent({ keepAlive: true });

  beforeAll(async () => {
    // One slot, and a hold far longer than a request's round trip on loopback.
    t = await startTestApp({
      RATE_LIMIT_REPORTS: '1/1m',
      RATE_LIMIT_HOLD: '3s',
      RATE_LIMIT_HOLD_MAX: '1',
    });
    await t.app.listen(0, '127.0.0.1');
    base = await t.app.getUrl();
  });

  afterAll(async () => {
    agent.destroy();
    await t.close();
  });

  function get(path: string): Promise<Pick<Response, 'status' | 'headers' | 'body'>> {
    return new Promise((resolve, reject) => {
      http
        .get(`${base}${path}`, { agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers as Record<string, string>,
              body: JSON.parse(text) as unknown,
            }),
          );
        })
        .on('error', reject);
    });
  }

  async function heldNow(): Promise<number> {
    const res = await t.http.get('/metrics').expect(200);
    return Number(/^http_rate_limit_held (\d+)$/m.exec(res.text)?.[1]);
  }

  it('hold a refusal back; past RATE_LIMIT_HOLD_MAX, answer at once and close the connection', async () => {
    expect((await get('/sagas/stats')).status).toBe(200);
    const answered: string[] = [];
    const held = get('/sagas/stats').then((res) => {
      answered.push('held');
      return res;
    });
    for (let i = 0; i < 200 && (await heldNow()) !== 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await heldNow()).toBe(1);

    const overflow = await get('/sagas/stats');
    answered.push('overflow');
    expectLimited(overflow);
    expect(overflow.headers.connection).toBe('close');

    const first = await held;
    expectLimited(first);
    expect(first.headers.connection).toBe('keep-alive');
    // The held answer says how long is left of the block once it has been held.
    expect(Number(first.headers['retry-after'])).toBeLessThanOrEqual(57);
    expect(answered).toEqual(['overflow', 'held']);
    expect(await heldNow()).toBe(0);
  });
});

describe('Rate limits counted in this process', () => {
  it('are counted in this process when REDIS_URL is unset; X-Forwarded-For is ignored by default', async () => {
    const t = await startTestApp({ RATE_LIMIT_REPORTS: '2/1m', RATE_LIMIT_PUBLIC: '2/1m' });
    try {
      await t.http.get('/sagas/stats').set({ 'X-Forwarded-For': '203.0.113.1' }).expect(200);
      await t.http.get('/sagas/stats').set({ 'X-Forwarded-For': '203.0.113.2' }).expect(200);
      expectLimited(await t.http.get('/sagas/stats').set({ 'X-Forwarded-For': '203.0.113.3' }));
      await t.http.get('/items').expect(200);
    } finally {
      await t.close();
    }
  });

  it('behind one proxy (TRUST_PROXY=1), key the client the proxy saw, whatever it wrote itself', async () => {
    const t = await startTestApp({ RATE_LIMIT_REPORTS: '2/1m', TRUST_PROXY: '1' });
    const via = (forwarded: string) => ({ 'X-Forwarded-For': forwarded });
    try {
      await t.http.get('/sagas/stats').set(via('198.51.100.1, 203.0.113.5')).expect(200);
      await t.http.get('/sagas/stats').set(via('198.51.100.2, 203.0.113.5')).expect(200);
      expectLimited(await t.http.get('/sagas/stats').set(via('198.51.100.3, 203.0.113.5')));
      await t.http.get('/sagas/stats').set(via('198.51.100.1, 203.0.113.6')).expect(200);
    } finally {
      await t.close();
    }
  });

  it('are counted in this process when Redis cannot be reached, and requests are answered', async () => {
    const t = await startTestApp({
      ...BUDGETS,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      CACHE_KEY_PREFIX: newPrefix(),
    });
    try {
      const before = await sagaCount(t);
      for (let i = 0; i < 3; i++) await t.http.get('/sagas/stats').expect(200);
      expectLimited(await t.http.get('/sagas/stats'));
      await t.http.post('/purchase').send(sword).expect(200);
      for (let i = 0; i < 4; i++) await t.http.get('/items').expect(200);
      expectLimited(await t.http.post('/purchase').send(sword));
      expect(await sagaCount(t)).toBe(before + 1);
    } finally {
      await t.close();
    }
  });

  it('fall back to this process when Redis dies, and go on answering', async () => {
    const redis = new RedisServer(await freePort());
    await redis.start();
    const prefix = newPrefix();
    const t = await startTestApp({ ...BUDGETS, REDIS_URL: redis.url, CACHE_KEY_PREFIX: prefix });
    try {
      await sharedCounts(t);
      await t.http.get('/sagas/stats').expect(200);
      const client = new Redis(redis.url);
      expect(await client.hget(`${prefix}ratelimit:reports:127.0.0.1`, 'n')).toBe('1');
      client.disconnect();

      await redis.kill();
      // The process's own count starts with the outage: a full budget, then refusals.
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await t.http.get('/sagas/stats')).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      await t.http.post('/purchase').send(sword).expect(200);
    } finally {
      await t.close();
      await redis.kill();
    }
  });
});

describe('The rate limit counts in Redis', () => {
  it("closes its connection with the app's", async () => {
    const t = await startTestApp({
      ...BUDGETS,
      REDIS_URL: SHARED_REDIS,
      CACHE_KEY_PREFIX: newPrefix(),
    });
    await sharedCounts(t);
    const storage = t.app.get<RedisThrottlerStorage>(ThrottlerStorage);
    await t.close();
    expect(storage.shared).toBe(false);
  });
});
