import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EXCERPT_BYTES, WebhookSender, type WebhookRequest } from './webhook-sender';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('WebhookSender', () => {
  let server: Server;
  let base: string;
  const seen: { headers: IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        if (req.url === '/ok') res.end('thanks');
        else if (req.url === '/long') res.end('x'.repeat(EXCERPT_BYTES * 8));
        else if (req.url === '/slow') setTimeout(() => res.end('late'), 500);
        else if (req.url === '/reset') req.socket.destroy();
        else {
          res.statusCode = 503;
          res.end('busy');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const request = (path: string, traceParent: string | null = null): WebhookRequest => ({
    url: `${base}${path}`,
    secret: SECRET,
    eventId: 'evt_1',
    body: '{"id":"evt_1"}',
    traceParent,
  });
  const open = new WebhookSender({ timeoutMs: 200, allowPrivateUrls: true });

  it('delivers on 2xx, with the signature headers and the traceparent', async () => {
    const trace = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const result = await open.send(request('/ok', trace));
    expect(result).toMatchObject({
      outcome: 'delivered',
      statusCode: 200,
      excerpt: 'thanks',
      error: null,
    });
    const last = seen.at(-1);
    expect(last?.body).toBe('{"id":"evt_1"}');
    expect(last?.headers).toMatchObject({
      'webhook-id': 'evt_1',
      'content-type': 'application/json',
      traceparent: trace,
    });
    expect(last?.headers['webhook-signature']).toMatch(/^v1,/);
    await open.send(request('/ok'));
    expect(seen.at(-1)?.headers.traceparent).toBeUndefined();
  });

  it('fails on any other status, keeping at most 1 KB of the answer', async () => {
    expect(await open.send(request('/busy'))).toMatchObject({
      outcome: 'http_error',
      statusCode: 503,
      excerpt: 'busy',
      error: 'HTTP 503',
    });
    const long = await open.send(request('/long'));
    expect(long.outcome).toBe('delivered');
    expect(long.excerpt).toHaveLength(EXCERPT_BYTES);
  });

  it('gives up at the deadline, and on a dropped connection', async () => {
    const slow = await open.send(request('/slow'));
    expect(slow).toMatchObject({ outcome: 'timeout', statusCode: null });
    expect(slow.error).toContain('200 ms');
    expect((await open.send(request('/reset'))).outcome).toBe('network_error');
    const refused = await open.send({ ...request('/ok'), url: 'http://127.0.0.1:9/' });
    expect(refused.outcome).toBe('network_error');
  });

  it('refuses private targets unless allowed, by literal and by name', async () => {
    const guarded = new WebhookSender({ timeoutMs: 200, allowPrivateUrls: false });
    const literal = await guarded.send(request('/ok'));
    expect(literal).toMatchObject({ outcome: 'refused', statusCode: null });
    const port = new URL(base).port;
    const named = await guarded.send({ ...request('/ok'), url: `http://localhost:${port}/ok` });
    expect(named.outcome).toBe('refused');
    const ipv6 = await guarded.send({ ...request('/ok'), url: 'https://[::1]:9/' });
    expect(ipv6.outcome).toBe('refused');
  });
});
