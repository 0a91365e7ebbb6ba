import { type ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { TooManyRequestsError } from '../../common/errors/domain-error';
import { rateLimitClassOf } from '../../common/http/rate-limit';
import type { RateLimitClass } from '../../config/configuration';
import { rateLimitedRequests } from '../monitoring/metrics/http-metrics';

const REFUSALS: Record<RateLimitClass, string> = {
  reports: 'Too many statistics and listing requests from this client',
  public: 'Too many requests from this client',
};

/**
 * The throttler's guard, global, so run before every route's own guards, pipes and handler: a
 * refused request costs one look-up of its client's count and no database work. Each route counts
 * against one budget per client (its address, see TRUST_PROXY), that of its class (see
 * RateLimit); routes of no class pass.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  /** The classes limited (not `off`). */
  private readonly limited = new Set<string>();

  override async onModuleInit(): Promise<void> {
    await super.onModuleInit();
    for (const { name } of this.throttlers) {
      if (name === undefined) continue;
      this.limited.add(name);
      // Each class's series exists from the start, at 0, so that a rate over it is defined.
      rateLimitedRequests.inc({ class: name }, 0);
    }
  }

  /** Routes of no class, or of a class that is `off`, pass at once. */
  protected override shouldSkip(context: ExecutionContext): Promise<boolean> {
    const budget = rateLimitClassOf(context);
    return Promise.resolve(budget === undefined || !this.limited.has(budget));
  }

  /** One count per client and class, whatever the route: `reports:203.0.113.7`. */
  protected override generateKey(
    _context: ExecutionContext,
    tracker: string,
    name: string,
  ): string {
    return `${name}:${tracker}`;
  }

  protected override throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const budget = rateLimitClassOf(context) ?? 'public';
    rateLimitedRequests.inc({ class: budget });
    const seconds = Math.max(1, detail.timeToBlockExpire);
    throw new TooManyRequestsError(
      'RATE_LIMITED',
      `${REFUSALS[budget]}; retry in ${seconds} s`,
      seconds,
    );
  }
}
