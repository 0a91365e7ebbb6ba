import { applyDecorators, SetMetadata } from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants';
import { ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { RateLimitClass } from '../../config/configuration';
import { AdminGuard } from '../auth/admin.guard';

const RATE_LIMIT_CLASS = 'rateLimitClass';

const DESCRIPTIONS: Record<RateLimitClass, string> = {
  reports:
    "RATE_LIMITED: over the client's budget for statistics and per-user listings (RATE_LIMIT_REPORTS); nothing was done",
  public:
    "RATE_LIMITED: over the client's budget for public routes (RATE_LIMIT_PUBLIC); nothing was done",
};

/**
 * Counts a route's requests (or a controller's) against a client's `budget`. A route without it
 * counts against `public`, unless it is an admin route (AdminGuard) or marked NoRateLimit.
 */
export function RateLimit(budget: RateLimitClass): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(RATE_LIMIT_CLASS, budget),
    ApiTooManyRequestsResponse({
      description: DESCRIPTIONS[budget],
      headers: {
        'Retry-After': {
          description: 'Seconds until the client may send again',
          schema: { type: 'integer', minimum: 1 },
        },
      },
    }),
  );
}

/** A public route no client budget applies to: probes and scrapers poll it on purpose. */
export function NoRateLimit(): MethodDecorator & ClassDecorator {
  return SetMetadata(RATE_LIMIT_CLASS, null);
}

/** The budget a route (its handler, on its controller) counts against; null: none. */
export function rateLimitClassOfRoute(handler: object, controller: object): RateLimitClass | null {
  for (const target of [handler, controller]) {
    const marked = Reflect.getMetadata(RATE_LIMIT_CLASS, target) as
      RateLimitClass | null | undefined;
    if (marked !== undefined) return marked;
  }
  // Admin routes are the operators' own: an anonymous caller gets 401 before any work.
  const guards = [handler, controller].flatMap(
    (target) => (Reflect.getMetadata(GUARDS_METADATA, target) as unknown[] | undefined) ?? [],
  );
  return guards.includes(AdminGuard) ? null : 'public';
}
