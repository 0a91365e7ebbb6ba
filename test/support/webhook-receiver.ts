import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** How a path of the receiver answers. */
export type Behaviour = 'ok' | 'fail' | 'slow';

export interface ReceivedHook {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: { id: string; type: string; transactionId?: string; data: Record<string, unknown> };
  /** Whether the signature verified, with the standardwebhooks package, under the path's secret. */
  verified: boolean;
  /** What the receiver answered. */
  answered: number;
  at: number;
}

/**
 * A local webhook receiver: each path answers as told (2xx, 500, or too late), and checks every
 * request's signature with the standardwebhooks package, an implementation apart from ours.
 */
export class WebhookReceiver {
  readonly received: ReceivedHook[] = [];
  private readonly behaviour = new Map<string, Behaviour>();
  private readonly secrets = new Map<string, string>();
  private readonly open = new Map<string, number>();
  /** The most requests a path has had open at once. */
  readonly maxOpen = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly slowMs: number,
  ) {}

  static async start(slowMs = 3000): Promise<WebhookReceiver> {
    const server = createServer();
    const receiver = new WebhookReceiver(server, slowMs);
    server.on('request', (req, res) => {
      const opened = (receiver.open.get(req.url ?? '/') ?? 0) + 1;
      receiver.open.set(req.url ?? '/', opened);
      receiver.maxOpen.set(
        req.url ?? '/',
        Math.max(opened, receiver.maxOpen.get(req.url ?? '/') ?? 0),
      );
      res.on('close', () =>
        receiver.open.set(req.url ?? '/', (receiver.open.get(req.url ?? '/') ?? 1) - 1),
      );
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        const raw = Buffer.concat(chunks).toString('utf8');
        const behaviour = receiver.behaviour.get(path) ?? 'ok';
        const answered = behaviour === 'fail' ? 500 : 200;
        receiver.received.push({
          path,
          headers: req.headers,
          raw,
          body: JSON.parse(raw) as ReceivedHook['body'],
          verified: receiver.verify(path, raw, req.headers),
          answered,
          at: Date.now(),
        });
        const answer = () => {
          res.statusCode = answered;
          res.end(answered === 500 ? 'receiver is down' : 'ok');
        };
        if (behaviour === 'slow') setTimeout(answer, receiver.slowMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  url(path: string): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${path}`;
  }

  set(path: string, behaviour: Behaviour): void {
    this.behaviour.set(path, behaviour);
  }

  secret(path: string, secret: string): void {
    this.secrets.set(path, secret);
  }

  at(path: string): ReceivedHook[] {
    return this.received.filter((hook) => hook.path === path);
  }

  verify(path: string, raw: string, headers: IncomingHttpHeaders, secret?: string): boolean {
    const key = secret ?? this.secrets.get(path);
    if (key === undefined) return false;
    try {
      new Webhook(key).verify(raw, {
        'webhook-id': String(headers['webhook-id']),
        'webhook-timestamp': String(headers['webhook-timestamp']),
        'webhook-signature': String(headers['webhook-signature']),
      });
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
