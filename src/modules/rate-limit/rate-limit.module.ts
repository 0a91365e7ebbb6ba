import { type DynamicModule, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ThrottlerStorage, ThrottlerStorageService } from '@nestjs/throttler';
import {
  type AppConfig,
  RATE_LIMIT_CLASSES,
  type RateLimitClass,
} from '../../config/configuration';
import {
  RATE_LIMIT_BUDGETS,
  RATE_LIMIT_HOLD,
  RateLimitHook,
  type RateLimitBudget,
} from './rate-limit.hook';
import { RedisThrottlerStorage } from './redis-throttler-storage';

/**
 * Per-client rate limits of the public routes (RATE_LIMIT_REPORTS, RATE_LIMIT_PUBLIC): counted
 * by @nestjs/throttler's storage, in Redis (shared by the instances) when REDIS_URL is set, else
 * in this process. With every class off, nothing is added to a request.
 */
@Module({})
export class RateLimitModule {
  static forRoot(config: AppConfig): DynamicModule {
    const budgets: Partial<Record<RateLimitClass, RateLimitBudget>> = {};
    for (const name of RATE_LIMIT_CLASSES) {
      const budget = config.rateLimits[name];
      if (budget !== undefined) budgets[name] = { limit: budget.limit, ttlMs: budget.ttlMs };
    }
    if (Object.keys(budgets).length === 0) return { module: RateLimitModule };
    return {
      module: RateLimitModule,
      imports: [DiscoveryModule],
      providers: [
        { provide: RATE_LIMIT_BUDGETS, useValue: budgets },
        { provide: RATE_LIMIT_HOLD, useValue: config.rateLimitHold },
        {
          provide: ThrottlerStorage,
          useFactory: () =>
            config.redisUrl === undefined
              ? new ThrottlerStorageService()
              : RedisThrottlerStorage.connect({
                  url: config.redisUrl,
                  keyPrefix: `${config.cache.keyPrefix}ratelimit:`,
                  timeoutMs: config.cache.timeoutMs,
                }),
        },
        RateLimitHook,
      ],
    };
  }
}
