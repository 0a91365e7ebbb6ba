import type { AppConfig } from '../../config/configuration';
import { DisabledCache } from './disabled-cache';
import { MemoryVersionedCache } from './memory-versioned-cache';
import { RedisVersionedCache } from './redis-versioned-cache';
import { VersionedCache } from './versioned-cache';

/** The cache port for a configuration: Redis when REDIS_URL is set, else an in-process LRU. */
export function createVersionedCache(
  config: Pick<AppConfig, 'cache' | 'redisUrl'>,
): VersionedCache {
  const { cache, redisUrl } = config;
  if (!cache.enabled) return new DisabledCache();
  if (redisUrl === undefined) {
    return new MemoryVersionedCache({ maxEntries: cache.maxEntries, floorTtlMs: cache.ttlMs });
  }
  return new RedisVersionedCache({
    url: redisUrl,
    keyPrefix: cache.keyPrefix,
    timeoutMs: cache.timeoutMs,
    floorTtlMs: cache.ttlMs,
  });
}
