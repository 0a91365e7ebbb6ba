import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../config/configuration';
import { createVersionedCache } from './create-versioned-cache';
import { VersionedCache } from './versioned-cache';

/** Provides the cache port: Redis when REDIS_URL is set, else an in-process LRU. */
@Module({
  providers: [
    {
      provide: VersionedCache,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>): VersionedCache =>
        createVersionedCache({
          cache: config.get('cache', { infer: true }),
          redisUrl: config.get('redisUrl', { infer: true }),
        }),
    },
  ],
  exports: [VersionedCache],
})
export class CacheModule {}
