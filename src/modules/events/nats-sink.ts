import { Logger } from '@nestjs/common';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errorMessage } from '../../common/errors/error-message';
import type { NatsSinkConfig } from '../../config/configuration';
import type { EventSink, SinkStatus } from './event-sink';
import { subjectOf, type RelayedEvent } from './integration-event';
import { JetStreamPublisher, NoStreamError } from './jetstream-publisher';

/** The stream's subjects: every integration event's subject is `saga.<type>`. */
export const STREAM_SUBJECTS = 'saga.>';

const NANOS_PER_MS = 1_000_000;
/** Backoff between attempts to connect (ms): first, and at most. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * The NATS JetStream sink: one connection, the stream created at start or checked, each event
 * published on `saga.<type>` with `Nats-Msg-Id` = its id (the stream drops a re-send within its
 * duplicate window), `Nats-Expected-Stream` (no other stream may take it) and `traceparent` when
 * its saga was traced; each waits for the stream's acknowledgement (JetStreamPublisher). The client reconnects by itself
 * once connected; until the first connection, and after the client gives up, this retries with
 * backoff. An outage is logged once when it starts and once when it ends.
 */
export class NatsSink implements EventSink {
  readonly name = 'nats';
  private readonly logger = new Logger(NatsSink.name);
  private connection: NatsConnection | undefined;
  private publisher: JetStreamPublisher | undefined;
  private streamReady = false;
  private disconnected = false;
  private reason: string | undefined = 'connecting';
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private outageLogged = false;

  constructor(private readonly config: NatsSinkConfig) {}

  start(): void {
    this.stopped = false;
    void this.connectLoop(RETRY_FIRST_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const connection = this.connection;
    this.connection = undefined;
    this.publisher?.close('the sink stopped');
    this.publisher = undefined;
    if (connection !== undefined && !connection.isClosed()) {
      await connection.close().catch(() => undefined);
    }
  }

  status(): SinkStatus {
    const connected =
      this.connection !== undefined &&
      this.streamReady &&
      !this.disconnected &&
      !this.connection.isClosed();
    return connected
      ? { name: this.name, connected }
      : { name: this.name, connected, reason: this.reason ?? 'not connected' };
  }

  async publish(event: RelayedEvent): Promise<void> {
    const publisher = this.publisher;
    if (publisher === undefined || !this.status().connected) {
      throw new Error('NATS is not connected');
    }
    const hdrs = headers();
    hdrs.set('Nats-Msg-Id', event.body.id);
    hdrs.set('Nats-Expected-Stream', this.config.stream);
    if (event.traceParent !== null) hdrs.set('traceparent', event.traceParent);
    try {
      await publisher.publish(subjectOf(event.body.type), JSON.stringify(event.body), hdrs);
    } catch (error) {
      // The stream went away (deleted, or a server without its storage): check it again.
      if (error instanceof NoStreamError && this.streamReady) {
        this.streamReady = false;
        this.reason = 'stream not found';
        void this.ensureStream();
      }
      throw error;
    }
  }

  private async connectLoop(delayMs: number): Promise<void> {
    if (this.stopped) return;
    try {
      const connection = await connect({
        servers: this.config.servers,
        name: 'purchase-saga-service',
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
      });
      if (this.stopped) {
        await connection.close();
        return;
      }
      this.connection = connection;
      this.publisher = new JetStreamPublisher(connection, this.config.publishTimeoutMs);
      this.disconnected = false;
      this.watch(connection).catch((error: unknown) =>
        this.logger.warn(`Watching the NATS connection failed: ${errorMessage(error)}`),
      );
      await this.ensureStream();
    } catch (error) {
      this.outage(`cannot connect (${errorMessage(error)})`);
      this.retryTimer = setTimeout(
        () => void this.connectLoop(Math.min(delayMs * 2, RETRY_MAX_MS)),
        delayMs,
      );
      this.retryTimer.unref();
    }
  }

  /** Follows the connection: an outage starts and ends with it; closed for good, connect anew. */
  private async watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect') {
        this.disconnected = true;
        this.outage('disconnected');
      } else if (status.type === 'reconnect') {
        this.disconnected = false;
        await this.ensureStream();
      }
    }
    if (this.stopped || this.connection !== connection) return;
    this.connection = undefined;
    this.publisher?.close('connection closed');
    this.publisher = undefined;
    this.outage('connection closed');
    void this.connectLoop(RETRY_FIRST_MS);
  }

  /** Creates the stream, or checks that the one there takes the events' subjects. */
  private async ensureStream(): Promise<void> {
    const connection = this.connection;
    if (connection === undefined) return;
    const { stream, maxAgeMs, duplicateWindowMs } = this.config;
    try {
      const jsm = await jetstreamManager(connection);
      try {
        const info = await jsm.streams.info(stream);
        if (!info.config.subjects.some((subject) => subject === STREAM_SUBJECTS)) {
          this.streamReady = false;
          this.reason = `stream ${stream} does not take ${STREAM_SUBJECTS}`;
          this.logger.error(
            `Stream ${stream} exists without the subjects ${STREAM_SUBJECTS}; integration events wait in the database`,
          );
          return;
        }
      } catch (error) {
        if (
          !(error instanceof JetStreamApiError) ||
          error.code !== JetStreamApiCodes.StreamNotFound
        ) {
          throw error;
        }
        await jsm.streams.add({
          name: stream,
          subjects: [STREAM_SUBJECTS],
          max_age: maxAgeMs * NANOS_PER_MS,
          duplicate_window: duplicateWindowMs * NANOS_PER_MS,
        });
        this.logger.log(`Created stream ${stream} (${STREAM_SUBJECTS})`);
      }
      this.streamReady = true;
      this.reason = undefined;
      if (this.outageLogged) this.logger.log('NATS reachable again: relaying integration events');
      else this.logger.log(`Connected to NATS, stream ${stream}`);
      this.outageLogged = false;
    } catch (error) {
      this.streamReady = false;
      this.outage(`stream ${stream} not ready (${errorMessage(error)})`);
    }
  }

  /** Logged once per outage: integration events wait in PostgreSQL meanwhile. */
  private outage(reason: string): void {
    this.reason = reason;
    if (this.outageLogged || this.stopped) return;
    this.outageLogged = true;
    this.logger.warn(`NATS unavailable: ${reason}; integration events wait in the database`);
  }
}
