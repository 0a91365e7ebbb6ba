import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule, type ThrottlerOptions } from '@nestjs/throttler';
import { rateLimitClassOf } from '../../common/http/rate-limit';
import { type AppConfig, RATE_LIMIT_CLASSES } from '../../config/configuration';
import { RateLimitGuard } from './rate-limit.guard';
import { RedisThrottlerStorage } from './redis-throttler-storage';

/**
 * Per-client rate limits of the public routes (RATE_LIMIT_REPORTS, RATE_LIMIT_PUBLIC): counted
 * in Redis, shared by the instances, when REDIS_URL is set, else in this process. With every
 * class off, no guard runs at all.
 */
@Module({})
export class RateLimitModule {
  static forRoot(config: AppConfig): DynamicModule {
    const throttlers = RATE_LIMIT_CLASSES.flatMap((name): ThrottlerOptions[] => {
      const budget = config.rateLimits[name];
      if (budget === undefined) return [];
      return [
        {
          name,
          limit: budget.limit,
          ttl: budget.ttlMs,
          skipIf: (context) => rateLimitClassOf(context) !== name,
        },
      ];
    });
    if (throttlers.length === 0) return { module: RateLimitModule };
    return {
      module: RateLimitModule,
      imports: [
        ThrottlerModule.forRootAsync({
          useFactory: () => ({
            throttlers,
            // Retry-After is the exception filter's; the X-RateLimit-* headers are left out.
            setHeaders: false,
            storage:
              config.redisUrl === undefined
                ? undefined
                : RedisThrottlerStorage.connect({
                    url: config.redisUrl,
                    keyPrefix: `${config.cache.keyPrefix}ratelimit:`,
                    timeoutMs: config.cache.timeoutMs,
                  }),
          }),
        }),
      ],
      providers: [{ provide: APP_GUARD, useClass: RateLimitGuard }],
    };
  }
}
