import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { BenchError } from './config';
import { freePort, type Service } from './service';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
/** Every integration event type: what the webhook endpoint takes unless told otherwise. */
export const ALL_EVENT_TYPES: readonly string[] = [
  'purchase.completed',
  'purchase.compensated',
  'purchase.failed',
  'purchase.compensation_failed',
  'notification.requested',
];

/** How long after the load the probe still waits for the run's events to arrive (ms). */
const DRAIN_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How late one sink's events arrived: from the commit that wrote them to their receipt. */
export interface LagSummary {
  /** Events written during the measured load. */
  events: number;
  /** Of those, how many had not arrived DRAIN_MS after the load ended. */
  missing: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Receipts of one sink: the event's id, when it occurred and when it arrived. */
class Receipts {
  private readonly lagById = new Map<string, number>();

  add(body: string): void {
    const event = JSON.parse(body) as { id: string; occurredAt: string };
    if (this.lagById.has(event.id)) return;
    this.lagById.set(event.id, Date.now() - Date.parse(event.occurredAt));
  }

  clear(): void {
    this.lagById.clear();
  }

  summary(written: readonly { id: string }[]): LagSummary {
    const lags: number[] = [];
    for (const { id } of written) {
      const lag = this.lagById.get(id);
      if (lag !== undefined) lags.push(lag);
    }
    lags.sort((a, b) => a - b);
    return {
      events: written.length,
      missing: written.length - lags.length,
      p50Ms: percentile(lags, 50),
      p99Ms: percentile(lags, 99),
    };
  }
}

/**
 * Relay on, for bench:ab: a NATS server of the probe's own and one webhook endpoint on
 * localhost (a receiver answering 204 to everything), both taking every integration event. The
 * service under test gets the settings (`env`) and the endpoint (`register`); the probe measures
 * each sink's lag, from an event's commit to its arrival, over the events the measured load
 * wrote.
 */
export class RelayProbe {
  private readonly nats = new Receipts();
  private connection: NatsConnection | undefined;
  private subscription: Subscription | undefined;

  private constructor(
    private readonly natsServer: ChildProcess,
    private readonly storeDir: string,
    private readonly natsUrl: string,
    private readonly receiver: Server,
    private readonly receiverUrl: string,
    private readonly webhooks: Receipts,
    readonly webhookEvents: readonly string[],
  ) {}

  /** `webhookEvents`: the types the webhook endpoint subscribes to. */
  static async start(webhookEvents: readonly string[] = ALL_EVENT_TYPES): Promise<RelayProbe> {
    const natsPort = await freePort();
    const storeDir = mkdtempSync(join(tmpdir(), 'saga-bench-ab-nats-'));
    const natsServer = spawn(
      NATS_SERVER,
      ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', storeDir],
      { stdio: 'ignore' },
    );
    const receiverPort = await freePort();
    const webhooks = new Receipts();
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        webhooks.add(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));
    const probe = new RelayProbe(
      natsServer,
      storeDir,
      `nats://127.0.0.1:${natsPort}`,
      receiver,
      `http://127.0.0.1:${receiverPort}/hook`,
      webhooks,
      webhookEvents,
    );
    await probe.subscribe();
    return probe;
  }

  /** The service's settings: both sinks on. */
  get env(): Record<string, string> {
    return {
      NATS_URL: this.natsUrl,
      WEBHOOKS_ENABLED: 'true',
      WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    };
  }

  /** Subscribes the receiver to its event types on a freshly started service. */
  async register(service: Service): Promise<void> {
    const res = await fetch(`${service.url}/admin/webhooks`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${service.adminToken}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        url: this.receiverUrl,
        events: this.webhookEvents,
        description: 'bench:ab receiver',
      }),
    });
    if (res.status !== 201) {
      throw new BenchError(`POST /admin/webhooks answered ${res.status}: ${await res.text()}`);
    }
  }

  /** Forgets what arrived so far (the warm-up's events). */
  reset(): void {
    this.nats.clear();
    this.webhooks.clear();
  }

  /**
   * Each sink's lag over the events written between `from` and `to` (read from the service's
   * database by `written`), once they arrived or DRAIN_MS passed.
   */
  async lags(
    written: () => Promise<{ id: string; type: string }[]>,
  ): Promise<{ nats: LagSummary; webhooks: LagSummary }> {
    const events = await written();
    const subscribed = events.filter((event) => this.webhookEvents.includes(event.type));
    const deadline = Date.now() + DRAIN_MS;
    for (;;) {
      const nats = this.nats.summary(events);
      const webhooks = this.webhooks.summary(subscribed);
      if ((nats.missing === 0 && webhooks.missing === 0) || Date.now() >= deadline) {
        return { nats, webhooks };
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    await this.connection?.close().catch(() => undefined);
    await new Promise<void>((resolve) => this.receiver.close(() => resolve()));
    this.natsServer.kill('SIGKILL');
    rmSync(this.storeDir, { recursive: true, force: true });
  }

  /** A core subscription sees every message the relay publishes to the stream's subjects. */
  private async subscribe(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        this.connection = await connect({ servers: this.natsUrl });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
    this.subscription = this.connection.subscribe('saga.>', {
      callback: (error, msg) => {
        if (error === null) this.nats.add(msg.string());
      },
    });
    await this.connection.flush();
  }
}
