import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const ID = Symbol('requestId');

/**
 * The correlation id of a request: the client's `X-Request-Id` when it is sane, else a new UUID.
 * Fastify's `genReqId`: it becomes `request.id`, answered as `X-Request-Id` and logged with the
 * request's line and its errors. Kept on the request, so that every caller gets the same one.
 */
export function requestIdOf(req: IncomingMessage): string {
  const holder = req as IncomingMessage & { [ID]?: string };
  if (holder[ID] !== undefined) return holder[ID];
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  holder[ID] = id;
  return id;
}
