import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/** Routes polled by probes and scrapers: a line per call would drown the others. */
const UNLOGGED = new Set(['/health', '/metrics']);

/**
 * One line per answered request, "request completed": its id (the `X-Request-Id` answered), method,
 * URL, client address, status and time in ms; at `info`, `error` for a 5xx, `debug` for a 429.
 * Written by Fastify's `onResponse` hook, so a request costs nothing for it when `LOG_LEVEL` leaves
 * its level out.
 * Headers are not logged: credentials and cookies stay out of the logs.
 */
export function logRequests(fastify: FastifyInstance, logger: Logger): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const statusCode = reply.statusCode;
    // A 429 is a request turned away by a rate limit: a client hammering the service must not
    // cost a line each (http_rate_limited_total counts them; LOG_LEVEL=debug shows them).
    const level = statusCode >= 500 ? 'error' : statusCode === 429 ? 'debug' : 'info';
    if (logger.isLevelEnabled(level) && !UNLOGGED.has(request.routeOptions.url ?? '')) {
      logger[level](
        {
          reqId: request.id,
          method: request.method,
          url: request.url,
          statusCode,
          responseTime: Math.round(reply.elapsedTime),
          remoteAddress: request.ip,
        },
        'request completed',
      );
    }
    done();
  });
}
