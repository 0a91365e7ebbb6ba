import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import { errorMessage } from '../../common/errors/error-message';
import { CommandDeadlines, connectRedis, redactRedisUrl } from '../cache/redis-connection';

/**
 * One hit of a client on a budget, as the throttler's in-memory storage counts it: a window of
 * ARGV[1] ms opens at the first hit; the hit past the limit (ARGV[2]) blocks the key for ARGV[3]
 * ms, during which hits are refused and not counted; then it starts afresh. The key is a hash
 * (`n` hits, `b` blocked) living as long as its window or its block. A key of another type is
 * garbage and is replaced. -> {hits, blocked (0/1), ms until the window or the block ends}.
 */
const HIT = `
local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
if redis.call('HEXISTS', KEYS[1], 'b') == 1 then
  return {tonumber(redis.call('HGET', KEYS[1], 'n')) or 0, 1, redis.call('PTTL', KEYS[1])}
end
local hits = redis.call('HINCRBY', KEYS[1], 'n', 1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if hits > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'b', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {hits, 1, tonumber(ARGV[3])}
end
return {hits, 0, ttl}
`;

/** What a storage answers for a hit (the package does not export its name). */
type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** What the storage needs of an ioredis client (with the HIT script as `rateLimitHit`). */
export interface RateLimitRedis {
  readonly status: string;
  rateLimitHit(
    key: string,
    ttlMs: number,
    limit: number,
    blockMs: number,
  ): Promise<[hits: number, blocked: number, ms: number]>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  disconnect(): void;
}

export interface RedisThrottlerStorageOptions {
  url: string;
  /** Where the counts live: the cache's key prefix + `ratelimit:`. */
  keyPrefix: string;
  /** A slower Redis counts as down (CACHE_TIMEOUT_MS). */
  timeoutMs: number;
}

/** After a failed command, Redis is left alone this long (a slow Redis must not slow every request). */
const SUSPEND_MS = 1000;
/** Blocked keys remembered here; beyond, the expired ones are dropped. */
const MAX_BLOCKED_KEYS = 10_000;

/**
 * Counts shared by every instance in Redis, one script per hit. Redis is optional: while it is
 * down, slow or suspended after a failure, hits are counted in this process by the throttler's
 * own in-memory storage (a client's budget is then per instance), and the outage and the
 * recovery are each logged once.
 */
export class RedisThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly logger = new Logger('RateLimit');
  private readonly deadlines: CommandDeadlines;
  private suspendedUntil = 0;
  /** Keys Redis said are blocked, until when: their hits are refused without asking it again. */
  private readonly blockedUntil = new Map<string, number>();
  private down = false;
  private closing = false;

  constructor(
    private readonly client: RateLimitRedis,
    private readonly options: Pick<RedisThrottlerStorageOptions, 'url' | 'timeoutMs'>,
    private readonly fallback = new ThrottlerStorageService(),
  ) {
    this.deadlines = new CommandDeadlines(options.timeoutMs);
    client.on('ready', () => this.markUp());
    client.on('error', (error) => this.markDown(errorMessage(error)));
    client.on('close', () => this.markDown('connection closed'));
  }

  static connect(options: RedisThrottlerStorageOptions): RedisThrottlerStorage {
    const client = connectRedis({
      ...options,
      scripts: { rateLimitHit: { lua: HIT, numberOfKeys: 1 } },
    }) as unknown as RateLimitRedis;
    return new RedisThrottlerStorage(client, options);
  }

  /** Clients refused here without asking Redis, until their blocks end. */
  get blockedClients(): number {
    return this.blockedUntil.size;
  }

  /** True while hits are counted in Redis (false: in this process). */
  get shared(): boolean {
    return this.client.status === 'ready' && !this.down && Date.now() >= this.suspendedUntil;
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const now = Date.now();
    const until = this.blockedUntil.get(key);
    if (until !== undefined && until > now) {
      // A client hammering past its limit costs no Redis call until its block ends.
      const seconds = Math.ceil((until - now) / 1000);
      return {
        totalHits: limit + 1,
        timeToExpire: seconds,
        isBlocked: true,
        timeToBlockExpire: seconds,
      };
    }
    if (this.client.status === 'ready' && now >= this.suspendedUntil) {
      try {
        const [hits, blocked, ms] = await this.deadlines.within(
          this.client.rateLimitHit(key, ttl, limit, blockDuration),
        );
        if (this.down) this.markUp();
        if (blocked === 1) this.rememberBlocked(key, Date.now() + ms);
        const seconds = Math.ceil(ms / 1000);
        return {
          totalHits: hits,
          timeToExpire: seconds,
          isBlocked: blocked === 1,
          timeToBlockExpire: blocked === 1 ? seconds : 0,
        };
      } catch (error) {
        this.suspendedUntil = Date.now() + SUSPEND_MS;
        this.markDown(errorMessage(error));
      }
    }
    return this.fallback.increment(key, ttl, limit, blockDuration, throttlerName);
  }

  private rememberBlocked(key: string, until: number): void {
    if (this.blockedUntil.size >= MAX_BLOCKED_KEYS) {
      const now = Date.now();
      for (const [known, end] of this.blockedUntil) if (end <= now) this.blockedUntil.delete(known);
      // Still full of live blocks: forget the oldest rather than grow without bound.
      if (this.blockedUntil.size >= MAX_BLOCKED_KEYS) {
        const oldest = this.blockedUntil.keys().next();
        if (oldest.done !== true) this.blockedUntil.delete(oldest.value);
      }
    }
    this.blockedUntil.set(key, until);
  }

  onApplicationShutdown(): void {
    this.closing = true;
    this.client.disconnect();
    this.deadlines.stop();
    this.fallback.onApplicationShutdown();
  }

  private markUp(): void {
    if (this.client.status !== 'ready') return;
    this.suspendedUntil = 0;
    if (!this.down) return;
    this.down = false;
    this.logger.log('Redis is back: rate limit counts are shared by the instances again');
  }

  private markDown(reason: string): void {
    if (this.down || this.closing) return;
    this.down = true;
    this.logger.warn(
      `Redis unavailable for rate limits (${redactRedisUrl(this.options.url)}: ${reason}); counting in this process until it is back`,
    );
  }
}
