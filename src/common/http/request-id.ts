import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const ID = Symbol('requestId');

/**
 * The correlation id of a request: the client's `X-Request-Id` when it is sane, else a new UUID.
 * Fastify and the logger both ask; the first answer is kept on the request so they agree.
 */
export function requestIdOf(req: IncomingMessage): string {
  const holder = req as IncomingMessage & { [ID]?: string };
  if (holder[ID] !== undefined) return holder[ID];
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  holder[ID] = id;
  return id;
}
