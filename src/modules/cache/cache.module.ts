import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../config/configuration';
import { DisabledCache } from './disabled-cache';
import { MemoryVersionedCache } from './memory-versioned-cache';
import { RedisVersionedCache } from './redis-versioned-cache';
import { VersionedCache } from './versioned-cache';

/** Provides the cache port: Redis when REDIS_URL is set, else an in-process LRU. */
@Module({
  providers: [
    {
      provide: VersionedCache,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>): VersionedCache => {
        const cache = config.get('cache', { infer: true });
        const redisUrl = config.get('redisUrl', { infer: true });
        if (!cache.enabled) return new DisabledCache();
        if (redisUrl === undefined) {
          return new MemoryVersionedCache({
            maxEntries: cache.maxEntries,
            floorTtlMs: cache.ttlMs,
          });
        }
        return new RedisVersionedCache({
          url: redisUrl,
          keyPrefix: cache.keyPrefix,
          timeoutMs: cache.timeoutMs,
          floorTtlMs: cache.ttlMs,
        });
      },
    },
  ],
  exports: [VersionedCache],
})
export class CacheModule {}
