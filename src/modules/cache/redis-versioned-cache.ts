import { Logger, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  CacheEntry,
  CacheUnavailableError,
  VersionedCache,
  type CacheStatus,
} from './versioned-cache';
import { errorMessage } from '../../common/errors/error-message';
import { CommandDeadlines, connectRedis, redactRedisUrl } from './redis-connection';

/**
 * Each key is a hash: `v` the version (or floor), `d` the value, `x` when the value expires (ms,
 * Redis clock). The key itself lives as long as the floor must. A key of another type is garbage
 * and is replaced.
 */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;
/** Deletes `key` (a Lua expression) when it holds something other than a hash. */
const dropGarbage = (key: string) => `
if redis.call('TYPE', ${key}).ok ~= 'hash' then redis.call('DEL', ${key}) end
`;

/** KEYS[1] -> nil, {version}, or {version, value} while the value is live. */
const GET = `
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return false end
local r = redis.call('HMGET', KEYS[1], 'v', 'd', 'x')
if not r[1] then return false end
${NOW}
if r[2] and (tonumber(r[3]) or 0) > now then return {r[1], r[2]} end
return {r[1]}
`;

/** KEYS[1], ARGV version, value, value ttl, key ttl -> the version held afterwards. */
const PUT = `
${dropGarbage('KEYS[1]')}
local version = tonumber(ARGV[1])
local r = redis.call('HMGET', KEYS[1], 'v', 'd', 'x')
${NOW}
local held = tonumber(r[1])
if held then
  if version < held then return held end
  if version == held and r[2] and (tonumber(r[3]) or 0) > now then return held end
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'd', ARGV[2], 'x', now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return version
`;

/**
 * KEYS the keys, ARGV a floor per key then the key ttl: each key's floor rises to its floor (its
 * value dropped) unless it holds a higher version already.
 */
const INVALIDATE = `
local ttl = ARGV[#ARGV]
for i, key in ipairs(KEYS) do
  ${dropGarbage('key')}
  local held = tonumber(redis.call('HGET', key, 'v'))
  if not held or held <= tonumber(ARGV[i]) then
    redis.call('DEL', key)
    redis.call('HSET', key, 'v', ARGV[i])
    redis.call('PEXPIRE', key, ttl)
  end
end
return #KEYS
`;

interface ScriptedRedis extends Redis {
  versionedGet(key: string): Promise<[string] | [string, string] | null>;
  versionedPut(
    key: string,
    version: number,
    value: string,
    ttlMs: number,
    keyTtlMs: number,
  ): Promise<number>;
  versionedInvalidate(keyCount: number, ...keysFloorsAndTtl: (string | number)[]): Promise<number>;
}

export interface RedisCacheOptions {
  url: string;
  keyPrefix: string;
  timeoutMs: number;
  floorTtlMs: number;
}

/** An invalidation waiting for the next write of floors. */
interface QueuedFloor {
  key: string;
  floor: number;
  written: () => void;
  failed: (error: Error) => void;
}

/** Floors not yet written to Redis are remembered up to this many keys. */
const MAX_PENDING_FLOORS = 100_000;
/** After a failed command, Redis is left alone this long (a slow Redis must not slow every read). */
const SUSPEND_MS = 1000;
/** Floors written by one command at most. */
const FLOOR_CHUNK = 500;

/**
 * The Redis adapter. Optional by design: commands time out quickly, nothing queues while the
 * connection is down (callers fall back to the database at once), the client reconnects by
 * itself with backoff, and the loss and the recovery are each logged once.
 */
export class RedisVersionedCache extends VersionedCache implements OnApplicationShutdown {
  readonly adapter = 'redis';
  private readonly logger = new Logger('SagaCache');
  private readonly client: ScriptedRedis;
  private healthy = false;
  private everUp = false;
  private degradedLogged = false;
  private suspendedUntil = 0;
  private closing = false;
  /** Invalidations Redis missed: enforced here, and written when Redis is back. */
  private readonly pendingFloors = new Map<string, number>();
  /** Invalidations issued since the last write of floors, written together at the next tick. */
  private queuedFloors: QueuedFloor[] = [];
  private readonly deadlines: CommandDeadlines;

  constructor(private readonly options: RedisCacheOptions) {
    super();
    this.client = connectRedis({
      url: options.url,
      keyPrefix: options.keyPrefix,
      timeoutMs: options.timeoutMs,
      scripts: {
        versionedGet: { lua: GET, numberOfKeys: 1, readOnly: true },
        versionedPut: { lua: PUT, numberOfKeys: 1 },
        versionedInvalidate: { lua: INVALIDATE },
      },
    }) as ScriptedRedis;
    this.deadlines = new CommandDeadlines(options.timeoutMs);
    this.client.on('ready', () => this.markUp());
    this.client.on('error', (error: unknown) => this.markDown(errorMessage(error)));
    this.client.on('close', () => this.markDown('connection closed'));
  }

  async get(key: string): Promise<CacheEntry | undefined> {
    const reply = await this.call(() => this.client.versionedGet(key));
    const pending = this.pendingFloors.get(key);
    if (reply === null) return pending === undefined ? undefined : { version: pending };
    const version = Number(reply[0]);
    // Garbage: as good as nothing (the next put replaces it).
    if (!Number.isSafeInteger(version))
      return pending === undefined ? undefined : { version: pending };
    if (pending !== undefined && version < pending) return { version: pending };
    return reply.length === 2 ? { version, value: reply[1] } : { version };
  }

  async put(key: string, version: number, value: string, ttlMs: number): Promise<number> {
    const pending = this.pendingFloors.get(key);
    if (pending !== undefined && version < pending) return pending;
    const held = await this.call(() =>
      this.client.versionedPut(key, version, value, ttlMs, this.keyTtlMs(ttlMs)),
    );
    if (pending !== undefined && held >= pending) this.pendingFloors.delete(key);
    return held;
  }

  /**
   * Resolves once Redis holds the floor. Invalidations issued together (every saga of a step
   * batch: the promise callbacks of one turn) leave as one command.
   */
  invalidate(key: string, floor: number): Promise<void> {
    return new Promise((written, failed) => {
      this.queuedFloors.push({ key, floor, written, failed });
      if (this.queuedFloors.length === 1) process.nextTick(() => void this.writeQueuedFloors());
    });
  }

  private async writeQueuedFloors(): Promise<void> {
    const queued = this.queuedFloors;
    this.queuedFloors = [];
    for (let start = 0; start < queued.length; start += FLOOR_CHUNK) {
      const chunk = queued.slice(start, start + FLOOR_CHUNK);
      try {
        await this.call(() => this.writeFloors(chunk));
      } catch (error) {
        for (const { key, floor, failed } of chunk) {
          this.remember(key, floor);
          failed(error as Error);
        }
        continue;
      }
      for (const { key, floor, written } of chunk) {
        // A higher floor Redis missed is still only here.
        const pending = this.pendingFloors.get(key);
        if (pending !== undefined && pending <= floor) this.pendingFloors.delete(key);
        written();
      }
    }
  }

  private writeFloors(floors: readonly { key: string; floor: number }[]): Promise<number> {
    return this.client.versionedInvalidate(
      floors.length,
      ...floors.map(({ key }) => key),
      ...floors.map(({ floor }) => floor),
      this.options.floorTtlMs,
    );
  }

  status(): CacheStatus {
    const up = this.healthy && this.client.status === 'ready' && Date.now() >= this.suspendedUntil;
    return { adapter: 'redis', status: up ? 'up' : 'down' };
  }

  override async probe(): Promise<CacheStatus> {
    if (!this.healthy) {
      try {
        await this.call(() => this.client.ping());
      } catch {
        // reported below
      }
    }
    return this.status();
  }

  /** Last, with the database pool: the saga's hand-over on shutdown still invalidates entries. */
  onApplicationShutdown(): void {
    this.closing = true;
    this.client.disconnect();
    this.deadlines.stop();
  }

  private keyTtlMs(ttlMs: number): number {
    return Math.max(ttlMs, this.options.floorTtlMs);
  }

  private async call<T>(command: () => Promise<T>): Promise<T> {
    if (this.client.status !== 'ready' || Date.now() < this.suspendedUntil) {
      throw new CacheUnavailableError('Redis is unavailable');
    }
    try {
      const result = await this.deadlines.within(command());
      if (!this.healthy) this.markUp();
      return result;
    } catch (error) {
      this.suspendedUntil = Date.now() + SUSPEND_MS;
      this.markDown(errorMessage(error));
      throw new CacheUnavailableError(`Redis failed: ${errorMessage(error)}`, { cause: error });
    }
  }

  private remember(key: string, floor: number): void {
    const known = this.pendingFloors.get(key) ?? -1;
    this.pendingFloors.delete(key);
    this.pendingFloors.set(key, Math.max(known, floor));
    if (this.pendingFloors.size > MAX_PENDING_FLOORS) {
      const oldest = this.pendingFloors.keys().next();
      if (oldest.done !== true) this.pendingFloors.delete(oldest.value);
    }
  }

  private markUp(): void {
    if (this.client.status !== 'ready') return;
    this.healthy = true;
    this.suspendedUntil = 0;
    if (this.degradedLogged) {
      this.logger.log('Redis cache is available again');
    } else if (!this.everUp) {
      this.logger.log(`Redis cache connected (${redactRedisUrl(this.options.url)})`);
    }
    this.everUp = true;
    this.degradedLogged = false;
    void this.flushPendingFloors();
  }

  private markDown(reason: string): void {
    this.healthy = false;
    if (this.degradedLogged || this.closing) return;
    this.degradedLogged = true;
    this.logger.warn(
      `Redis cache unavailable (${redactRedisUrl(this.options.url)}: ${reason}); reading from the database until it is back`,
    );
  }

  private async flushPendingFloors(): Promise<void> {
    const floors = [...this.pendingFloors].map(([key, floor]) => ({ key, floor }));
    for (let start = 0; start < floors.length; start += FLOOR_CHUNK) {
      const chunk = floors.slice(start, start + FLOOR_CHUNK);
      try {
        await this.writeFloors(chunk);
      } catch {
        // Down again: the next recovery retries what is left.
        return;
      }
      for (const { key, floor } of chunk) {
        if (this.pendingFloors.get(key) === floor) this.pendingFloors.delete(key);
      }
    }
  }
}
