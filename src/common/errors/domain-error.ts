import type { ErrorCode } from './error-codes';

/**
 * A refusal the domain makes on purpose (unknown user, insufficient stock...). It carries the
 * contract's errorCode; the global exception filter turns it into an HTTP answer.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class NotFoundError extends DomainError {}

/**
 * A request turned away for now (a client over its rate limit, reporting saturated): answered
 * 429 with `Retry-After`, it changes nothing and may be sent again after that many seconds.
 */
export class TooManyRequestsError extends DomainError {
  constructor(
    code: 'RATE_LIMITED' | 'REPORTING_BUSY',
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(code, message);
    this.name = 'TooManyRequestsError';
  }
}

/**
 * A failure of infrastructure (database, network, injected fault): worth retrying, never a
 * business decision.
 */
export class InfrastructureError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InfrastructureError';
  }
}
