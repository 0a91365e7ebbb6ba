import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { counter, gauge, histogram } from './metric-registry';

const requestDuration = histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP requests by method, route pattern and status code',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
});

/** Requests a client's rate limit turned away (also in the histogram above, as 429s). */
export const rateLimitedRequests = counter({
  name: 'http_rate_limited_total',
  help: 'Requests answered 429 RATE_LIMITED, by rate limit class (reports, public)',
  labelNames: ['class'] as const,
});

/** Refused answers held back at this moment (RATE_LIMIT_HOLD). */
export const rateLimitHeld = gauge({
  name: 'http_rate_limit_held',
  help: 'Answers 429 RATE_LIMITED being held back (RATE_LIMIT_HOLD) right now',
});

/** Requests no route matched share one label, so that scanners cannot inflate cardinality. */
export const UNMATCHED_ROUTE = 'unmatched';

export function routeLabel(request: Pick<FastifyRequest, 'routeOptions'>): string {
  return request.routeOptions.url ?? UNMATCHED_ROUTE;
}

/**
 * Times every answer, errors included (401s from guards and the exception filter's answers go
 * through Fastify's onResponse like any other reply), labelled with the route pattern
 * (`/saga/:transactionId`), never the raw URL.
 */
@Injectable()
export class HttpMetrics implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
      requestDuration.observe(
        {
          method: request.method,
          route: routeLabel(request),
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
      done();
    });
  }
}
