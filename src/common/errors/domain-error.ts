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
 * A failure of infrastructure (database, network, injected fault): worth retrying, never a
 * business decision.
 */
export class InfrastructureError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InfrastructureError';
  }
}
