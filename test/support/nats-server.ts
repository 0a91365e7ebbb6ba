import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { freePort } from './service-process';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * A NATS server with JetStream of a test's own (never the machine's on 4222): its own port and
 * store directory, which survive a stop, so that a restart finds its streams again.
 */
export class NatsServer {
  private process: ChildProcess | undefined;
  readonly storeDir = mkdtempSync(join(tmpdir(), 'saga-nats-'));

  private constructor(readonly port: number) {}

  static async start(port?: number): Promise<NatsServer> {
    const server = new NatsServer(port ?? (await freePort()));
    await server.start();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      NATS_SERVER,
      ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir],
      { stdio: 'ignore' },
    );
    this.process = child;
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
      if (await listening(this.port)) return;
      if (i > 200) throw new Error('nats-server did not start listening');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the server (SIGKILL, as a crash would); resolves once it is gone. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops it and removes its store. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/** A message as the test's consumer received it. */
export interface Received {
  subject: string;
  msgId: string | undefined;
  traceparent: string | undefined;
  streamSeq: number;
  /** Delivered before without an acknowledgement the server kept (at least once). */
  redelivered: boolean;
  body: {
    id: string;
    type: string;
    occurredAt: string;
    transactionId: string;
    data: Record<string, unknown>;
  };
}

/**
 * A durable pull consumer on the stream, acknowledging each message explicitly, as the README
 * tells a consumer to: every message it received, in the order the stream holds them.
 */
export class StreamConsumer {
  readonly received: Received[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;

  private constructor(
    private readonly connection: NatsConnection,
    private readonly stream: string,
  ) {}

  /** How many messages the stream holds. */
  async storedMessages(): Promise<number> {
    const jsm = await jetstreamManager(this.connection);
    return (await jsm.streams.info(this.stream)).state.messages;
  }

  static async open(url: string, stream = 'SAGA_EVENTS', durable = 'test-consumer') {
    const connection = await connect({
      servers: url,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    const jsm = await jetstreamManager(connection);
    // The stream is the service's to create: wait for it.
    for (let i = 0; ; i++) {
      try {
        await jsm.streams.info(stream);
        break;
      } catch (error) {
        if (i > 300) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit });
    const consumer = new StreamConsumer(connection, stream);
    const js = jetstream(connection);
    consumer.loop = consumer.run(async () => js.consumers.get(stream, durable));
    return consumer;
  }

  private async run(get: () => Promise<import('@nats-io/jetstream').Consumer>): Promise<void> {
    while (!this.stopped) {
      try {
        const consumer = await get();
        const messages = await consumer.fetch({ max_messages: 500, expires: 1000 });
        for await (const message of messages) this.take(message);
      } catch {
        // The server is away (a test stopped it): try again shortly.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private take(message: JsMsg): void {
    this.received.push({
      subject: message.subject,
      msgId: message.headers?.get('Nats-Msg-Id'),
      traceparent: message.headers?.get('traceparent') || undefined,
      streamSeq: message.seq,
      redelivered: message.redelivered,
      body: message.json(),
    });
    message.ack();
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.connection.close();
  }
}

/**
 * SQL: whether the integration event `e` has been relayed to the broker (the relay's cursor has
 * passed it).
 */
export const RELAYED = `EXISTS (SELECT 1 FROM relay_cursors c WHERE c.sink = 'jetstream'
  AND (e.tx, e.seq) <= (c.stream_tx, c.stream_seq))`;
