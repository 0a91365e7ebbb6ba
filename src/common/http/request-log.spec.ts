import Fastify from 'fastify';
import pino from 'pino';
import { Writable } from 'node:stream';
import { logRequests } from './request-log';

/** A Fastify app with a route answering 200 and one failing with 500, logged to memory. */
async function appLoggingAt(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ genReqId: () => 'req-1' });
  logRequests(app, pino({ level }, sink));
  app.get('/ok', () => ({ ok: true }));
  app.get('/health', () => ({ ok: true }));
  app.get('/boom', async (_request, reply) => reply.code(500).send({ ok: false }));
  app.get('/limited', async (_request, reply) => reply.code(429).send({ ok: false }));
  await app.ready();
  return { app, lines };
}

describe('logRequests', () => {
  it('writes one info line per request, with id, method, URL, status, time and client', async () => {
    const { app, lines } = await appLoggingAt('info');
    await app.inject({ method: 'GET', url: '/ok?page=2' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'request completed',
      reqId: 'req-1',
      method: 'GET',
      url: '/ok?page=2',
      statusCode: 200,
      remoteAddress: '127.0.0.1',
    });
    expect(typeof lines[0].responseTime).toBe('number');
    await app.close();
  });

  it('logs a 5xx at error, and nothing for health probes', async () => {
    const { app, lines } = await appLoggingAt('info');
    await app.inject({ method: 'GET', url: '/health?probe=1' });
    await app.inject({ method: 'GET', url: '/boom' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, url: '/boom', statusCode: 500 });
    await app.close();
  });

  it('logs a 429 at debug only, so that a client over its rate limit costs no line', async () => {
    const atInfo = await appLoggingAt('info');
    await atInfo.app.inject({ method: 'GET', url: '/limited' });
    expect(atInfo.lines).toHaveLength(0);
    await atInfo.app.close();
    const atDebug = await appLoggingAt('debug');
    await atDebug.app.inject({ method: 'GET', url: '/limited' });
    expect(atDebug.lines).toEqual([
      expect.objectContaining({ level: 20, url: '/limited', statusCode: 429 }),
    ]);
    await atDebug.app.close();
  });

  it('leaves out what the level leaves out', async () => {
    const { app, lines } = await appLoggingAt('warn');
    await app.inject({ method: 'GET', url: '/ok' });
    await app.inject({ method: 'GET', url: '/boom' });
    expect(lines.map((line) => line.url)).toEqual(['/boom']);
    await app.close();
  });
});
