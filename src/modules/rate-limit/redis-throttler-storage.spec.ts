import { Logger } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { type RateLimitRedis, RedisThrottlerStorage } from './redis-throttler-storage';

type Reply = [hits: number, blocked: number, ms: number];

/** An ioredis client as far as the storage sees it, answering as each test says. */
class FakeRedis extends EventEmitter implements RateLimitRedis {
  status = 'ready';
  calls = 0;
  answer: () => Promise<Reply> = () => Promise.resolve([1, 0, 1000]);

  rateLimitHit(): Promise<Reply> {
    this.calls++;
    return this.answer();
  }

  disconnect(): void {
    this.status = 'end';
    this.emit('close');
  }
}

const TTL = 1000;
const LIMIT = 2;
const hit = (storage: RedisThrottlerStorage, key = 'reports:203.0.113.7') =>
  storage.increment(key, TTL, LIMIT, TTL, 'reports');

describe('RedisThrottlerStorage', () => {
  let redis: FakeRedis;
  let storage: RedisThrottlerStorage;
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    redis = new FakeRedis();
    storage = new RedisThrottlerStorage(redis, {
      url: 'redis://:secret@cache:6379',
      timeoutMs: 20,
    });
  });

  afterEach(() => {
    storage.onApplicationShutdown();
    jest.restoreAllMocks();
  });

  it("answers Redis's count, in whole seconds", async () => {
    redis.answer = () => Promise.resolve([2, 0, 1200]);
    expect(await hit(storage)).toEqual({
      totalHits: 2,
      timeToExpire: 2,
      isBlocked: false,
      timeToBlockExpire: 0,
    });
    redis.answer = () => Promise.resolve([3, 1, 800]);
    expect(await hit(storage)).toEqual({
      totalHits: 3,
      timeToExpire: 1,
      isBlocked: true,
      timeToBlockExpire: 1,
    });
    expect(warn).not.toHaveBeenCalled();
    expect(storage.shared).toBe(true);
  });

  it('refuses a blocked client here until its block ends, without asking Redis each time', async () => {
    redis.answer = () => Promise.resolve([3, 1, 800]);
    expect((await hit(storage)).isBlocked).toBe(true);
    expect(redis.calls).toBe(1);
    for (let i = 0; i < 5; i++) {
      expect(await hit(storage)).toMatchObject({ isBlocked: true, timeToBlockExpire: 1 });
    }
    expect(redis.calls).toBe(1);
    // Another client, and the same client once its block has ended, go to Redis.
    redis.answer = () => Promise.resolve([1, 0, 1000]);
    expect((await hit(storage, 'reports:198.51.100.1')).isBlocked).toBe(false);
    expect(redis.calls).toBe(2);
    const now = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(now + 900);
    expect((await hit(storage)).isBlocked).toBe(false);
    expect(redis.calls).toBe(3);
  });

  it('remembers a bounded number of blocked clients, the expired ones dropped first', async () => {
    redis.answer = () => Promise.resolve([3, 1, 800]);
    const now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockReturnValue(now);
    for (let i = 0; i < 10_000; i++) await hit(storage, `reports:10.0.${i >> 8}.${i & 255}`);
    expect(redis.calls).toBe(10_000);
    expect(storage.blockedClients).toBe(10_000);
    // Full of live blocks: one more forgets the oldest, which then asks Redis again.
    await hit(storage, 'reports:192.0.2.1');
    expect(storage.blockedClients).toBe(10_000);
    await hit(storage, 'reports:10.0.0.0');
    expect(redis.calls).toBe(10_002);
    await hit(storage, 'reports:10.0.0.5');
    expect(redis.calls).toBe(10_002);
    // Once they have expired, the next block sweeps them out.
    clock.mockReturnValue(now + 1000);
    await hit(storage, 'reports:192.0.2.2');
    expect(storage.blockedClients).toBe(1);
  });

  it('counts in this process when Redis fails, and says so once per outage', async () => {
    redis.answer = () => Promise.reject(new Error('READONLY'));
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await hit(storage));
    expect(answers.map((a) => a.isBlocked)).toEqual([false, false, true, true, true]);
    expect(answers[0].totalHits).toBe(1);
    // Left alone after the failure: one command, not one per request.
    expect(redis.calls).toBe(1);
    expect(storage.shared).toBe(false);
    redis.emit('error', new Error('ECONNRESET'));
    redis.emit('close');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(
      /Redis unavailable for rate limits \(redis:\/\/\*\*\*@cache:6379: READONLY\)/,
    );
  });

  it('counts in this process when Redis is too slow', async () => {
    redis.answer = () => new Promise<Reply>(() => undefined);
    expect(await hit(storage)).toMatchObject({ totalHits: 1, isBlocked: false });
    expect(await hit(storage)).toMatchObject({ totalHits: 2, isBlocked: false });
    expect(await hit(storage)).toMatchObject({ isBlocked: true });
    expect(redis.calls).toBe(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/Command timed out/);
  });

  it('asks nothing of Redis while it is not connected', async () => {
    redis.status = 'reconnecting';
    redis.emit('error', new Error('connect ECONNREFUSED'));
    expect(await hit(storage)).toMatchObject({ totalHits: 1, isBlocked: false });
    expect(redis.calls).toBe(0);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('shares the counts again once Redis is back, and says so once', async () => {
    redis.answer = () => Promise.reject(new Error('down'));
    await hit(storage);
    redis.answer = () => Promise.resolve([1, 0, 1000]);
    redis.emit('ready');
    expect(await hit(storage)).toMatchObject({ totalHits: 1 });
    expect(redis.calls).toBe(2);
    redis.emit('ready');
    expect(log).toHaveBeenCalledTimes(1);
    expect(String(log.mock.calls[0][0])).toMatch(/Redis is back/);
    // The next outage is reported again.
    redis.answer = () => Promise.reject(new Error('down again'));
    await hit(storage);
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('keeps each key its own count in this process', async () => {
    redis.status = 'connecting';
    await hit(storage, 'reports:a');
    await hit(storage, 'reports:a');
    expect(await hit(storage, 'reports:a')).toMatchObject({ isBlocked: true });
    expect(await hit(storage, 'reports:b')).toMatchObject({ totalHits: 1, isBlocked: false });
  });

  it('closes quietly on shutdown', () => {
    storage.onApplicationShutdown();
    expect(redis.status).toBe('end');
    expect(warn).not.toHaveBeenCalled();
  });
});
