import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { BatchQueue } from '../../common/batch-queue';
import { ConcurrencyGate } from '../../common/concurrency-gate';
import { errorMessage } from '../../common/errors/error-message';
import { PeriodicTask } from '../../common/periodic-task';
import type { AppConfig, WebhooksConfig } from '../../config/configuration';
import { TransactionHost } from '../../database/transaction-host';
import { EventStream } from '../events/event-stream';
import type { RelayedEvent, StreamCursor } from '../events/integration-event';
import { relayMetrics } from '../events/relay-metrics';
import { notificationIdOf } from '../notifications/notification-delivery';
import { NotificationsService, type DeliveryChange } from '../notifications/notifications.service';
import { InstanceIdentity } from '../saga/core/instance-identity';
import { isTerminal } from '../saga/core/saga';
import {
  notificationDeliveryChanged,
  SAGA_CHANGED,
  type SagaChangedEvent,
} from '../saga/core/saga-changed.event';
import { retryDelayMs } from './retry-schedule';
import { webhookMetrics } from './webhook-metrics';
import { WebhookSender, type AttemptResult } from './webhook-sender';
import {
  WebhooksRepository,
  type AttemptToRecord,
  type ClaimedDelivery,
  type EndpointHealth,
  type FirstAttempt,
  type LeasedStream,
} from './webhooks.repository';

/** The name of the webhooks in the relay's metrics (`sink` label). */
export const WEBHOOK_SINK = 'webhooks';
/**
 * Events a stream reads at a time, at most (its first attempts are recorded together): a few
 * rounds of the endpoint's concurrency, so that a slow endpoint's attempts show within seconds.
 */
const STREAM_BATCH = 200;
const ROUNDS_PER_BATCH = 4;
/** Retried attempts recorded per transaction at most. */
const RECORD_BATCH = 500;
/** How long settling sagas gather before the streams read on (ms). */
const WAKE_LINGER_MS = 20;
/** A lease outlives the attempt's deadline by this much, then another instance may take over. */
const LEASE_MARGIN_MS = 30_000;
/** The failing endpoints' gauge is read again at most this often (ms). */
const GAUGE_EVERY_MS = 5000;
/** A turn is never refused: work waits for it. */
const NO_REFUSAL = { queue: Number.MAX_SAFE_INTEGER, maxWaitMs: Infinity };

/** An endpoint whose stream this instance reads. */
interface Stream {
  lease: LeasedStream;
  /** The last event taken, as recorded (the lease's cursor when the stream was taken). */
  cursor: StreamCursor;
  /** What it has in flight, first attempts and retries: WEBHOOK_ENDPOINT_CONCURRENCY at most. */
  gate: ConcurrencyGate;
  running?: Promise<void>;
  /** Woken while reading: read on once the batch in hand is recorded. */
  again: boolean;
  failing: boolean;
}

/**
 * Delivers the integration events to the webhook endpoints. Each enabled endpoint reads the
 * events as a stream from its own cursor, on the one instance that holds its lease: it sends
 * the events it is subscribed to (WEBHOOK_ENDPOINT_CONCURRENCY in flight), then records in one
 * transaction a delivery per event with its first attempt, and the cursor past them. Nothing is
 * written before the first attempt; a crash in between sends the batch again (receivers
 * de-duplicate by `webhook-id`). A failed attempt leaves its delivery due for a retry, which the
 * same instance claims and sends within the same per-endpoint bound. Every endpoint goes at its
 * own pace: a slow or failing one holds back only its own deliveries, never purchases.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly config: WebhooksConfig;
  private readonly sender: WebhookSender;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly streamTask: PeriodicTask;
  private readonly deliverTask: PeriodicTask;
  private readonly streams = new Map<string, Stream>();
  /** WEBHOOK_CONCURRENCY: what this instance has in flight over all endpoints. */
  private readonly sending: ConcurrencyGate;
  private readonly inFlight = new Set<Promise<void>>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private gaugeReadAt = 0;
  private leaseFailing = false;
  /** Retried attempts that ended, recorded together (one transaction at a time). */
  private readonly recording = new BatchQueue<AttemptToRecord, void>(
    async (batch) => {
      await this.recordRetries(batch);
      return batch.map(() => ({ kind: 'value', value: undefined }));
    },
    { maxBatch: RECORD_BATCH, concurrency: 1 },
  );

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly events: EventStream,
    private readonly notifications: NotificationsService,
    private readonly tx: TransactionHost,
    private readonly identity: InstanceIdentity,
    private readonly bus: EventEmitter2,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('events', { infer: true }).webhooks;
    this.sender = new WebhookSender(this.config);
    this.leaseMs = this.config.timeoutMs + LEASE_MARGIN_MS;
    this.batchSize = Math.min(STREAM_BATCH, ROUNDS_PER_BATCH * this.config.endpointConcurrency);
    this.sending = new ConcurrencyGate({
      limit: this.config.concurrency,
      ...NO_REFUSAL,
      refuse: () => new Error('never refused'),
    });
    this.streamTask = new PeriodicTask(() => this.leaseAndRead(), this.config.pollMs);
    this.deliverTask = new PeriodicTask(() => this.deliverDue(), this.config.pollMs);
  }

  onApplicationBootstrap(): void {
    if (!this.config.enabled) return;
    this.bus.on(SAGA_CHANGED, this.onChanged);
    this.streamTask.start();
    this.deliverTask.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.config.enabled) return;
    this.bus.off(SAGA_CHANGED, this.onChanged);
    clearTimeout(this.wakeTimer);
    await Promise.all([this.streamTask.stop(), this.deliverTask.stop()]);
    // Bounded by the attempts' deadline; what is cut short is sent again by the next holder.
    await Promise.allSettled([
      ...[...this.streams.values()].map((stream) => stream.running),
      ...this.inFlight,
    ]);
    this.streams.clear();
    await this.sender.close();
    try {
      await this.repository.releaseStreams(this.identity.id);
    } catch (error) {
      this.logger.warn(`Letting the webhook streams go failed: ${errorMessage(error)}`);
    }
  }

  /** Looks for work now (a test, a re-send, an endpoint enabled again). */
  wake(): void {
    if (!this.config.enabled) return;
    this.streamTask.runSoon();
    this.deliverTask.runSoon();
  }

  private readonly onChanged = (event: SagaChangedEvent): void => {
    // Integration events are written as a saga settles.
    if (!isTerminal(event.status)) return;
    if (this.wakeTimer !== undefined) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      for (const stream of this.streams.values()) this.read(stream);
    }, WAKE_LINGER_MS);
  };

  /**
   * Takes (or keeps) the streams no other instance holds, reads each, and fails the
   * notifications no webhook will deliver any more; never throws.
   */
  private async leaseAndRead(): Promise<void> {
    try {
      await this.readGauge();
      if (this.identity.draining) return;
      const leased = await this.repository.leaseStreams(this.identity.id, this.leaseMs);
      const held = new Set(leased.map((lease) => lease.endpointId));
      for (const [endpointId, stream] of this.streams) {
        if (!held.has(endpointId) && stream.running === undefined) this.streams.delete(endpointId);
      }
      for (const lease of leased) {
        const stream = this.streams.get(lease.endpointId);
        if (stream === undefined) {
          // Taken now: from the cursor recorded, whoever recorded it.
          this.streams.set(lease.endpointId, {
            lease,
            cursor: lease.cursor,
            gate: new ConcurrencyGate({
              limit: this.config.endpointConcurrency,
              ...NO_REFUSAL,
              refuse: () => new Error('never refused'),
            }),
            again: false,
            failing: false,
          });
        } else {
          // Held all along: the cursor in hand is ahead of one a batch is recording.
          stream.lease = { ...lease, cursor: stream.cursor };
        }
      }
      for (const stream of this.streams.values()) this.read(stream);
      await this.failUndeliverable();
      if (this.leaseFailing) {
        this.leaseFailing = false;
        this.logger.log('Webhook streams are read again');
      }
    } catch (error) {
      relayMetrics.failed(WEBHOOK_SINK, 1);
      if (!this.leaseFailing) {
        this.leaseFailing = true;
        this.logger.warn(`Reading the webhook streams failed: ${errorMessage(error)}`);
      }
    }
  }

  /** Reads a stream on until it is drained, unless a read is going (it then reads on). */
  private read(stream: Stream): void {
    if (stream.running !== undefined) {
      stream.again = true;
      return;
    }
    stream.running = this.drain(stream).finally(() => {
      stream.running = undefined;
    });
  }

  private async drain(stream: Stream): Promise<void> {
    const endpointId = stream.lease.endpointId;
    try {
      do {
        stream.again = false;
        while (
          !this.streamTask.isStopped &&
          this.streams.get(endpointId) === stream &&
          (await this.readBatch(stream))
        );
      } while (stream.again && !this.streamTask.isStopped);
      if (stream.failing) {
        stream.failing = false;
        this.logger.log(`Webhook stream of endpoint ${endpointId} is read again`);
      }
    } catch (error) {
      relayMetrics.failed(WEBHOOK_SINK, 1);
      if (!stream.failing) {
        stream.failing = true;
        this.logger.warn(
          `Webhook stream of endpoint ${endpointId} failed: ${errorMessage(error)}; read again at the next poll`,
        );
      }
    }
  }

  /**
   * One batch of a stream: read, the subscribed events sent, all recorded in one transaction
   * with the cursor past them. True when the batch was full (more may wait).
   */
  private async readBatch(stream: Stream): Promise<boolean> {
    const { lease } = stream;
    const read = await this.events.read(stream.cursor, this.batchSize);
    if (read.length === 0) return false;
    const to = read[read.length - 1].cursor;
    const since = lease.createdAt.getTime();
    const wanted = read
      .map((entry) => entry.event)
      .filter(
        (event) =>
          lease.events.includes(event.body.type) && Date.parse(event.body.occurredAt) >= since,
      );
    const attempts = await Promise.all(
      wanted.map((event) =>
        stream.gate.run(() => this.sending.run(() => this.sendFirst(lease, event))),
      ),
    );
    const endpointId = lease.endpointId;
    const recorded = await this.tx.run(async () => {
      const held = await this.repository.recordStream(
        this.identity.id,
        endpointId,
        { from: stream.cursor, to },
        this.leaseMs,
        attempts,
      );
      if (!held) return undefined;
      const health = await this.repository.recordHealth(
        attempts.map((attempt) => ({ endpointId, result: attempt.result })),
        this.config.disableAfterMs,
      );
      const changes = await this.notifications.recordHandedOff(
        attempts
          .filter((attempt) => attempt.result.outcome === 'delivered')
          .flatMap((attempt) => notificationIdOf(attempt.event.body) ?? []),
      );
      return { health, changes };
    });
    if (recorded === undefined) {
      // Another instance holds it now and sends from the cursor it found.
      this.streams.delete(endpointId);
      this.logger.warn(
        `Webhook stream of endpoint ${endpointId} was taken over; its last ${attempts.length} attempt(s) will be sent again`,
      );
      return false;
    }
    stream.cursor = to;
    if (wanted.length > 0) relayMetrics.published(WEBHOOK_SINK, wanted.length);
    await this.announce(recorded.changes);
    this.reportFailures(
      attempts.map((attempt) => ({
        deliveryId: `of event ${attempt.event.body.id}`,
        endpointId,
        attempts: 1,
        result: attempt.result,
        retryInMs: attempt.retryInMs,
      })),
      recorded.health,
    );
    if (recorded.health.some((health) => !health.enabled)) {
      this.streams.delete(endpointId);
      return false;
    }
    return read.length === this.batchSize;
  }

  private async sendFirst(lease: LeasedStream, event: RelayedEvent): Promise<FirstAttempt> {
    const result = await this.sender.send({
      url: lease.url,
      secret: lease.secret,
      eventId: event.body.id,
      body: JSON.stringify(event.body),
      traceParent: event.traceParent,
    });
    webhookMetrics.attempt(lease.endpointId, result.outcome, result.latencyMs);
    return {
      event,
      result,
      retryInMs:
        result.outcome === 'delivered' ? undefined : retryDelayMs(1, this.config.retryScheduleMs),
    };
  }

  /** Claims the due retries of the streams held here, as far as each has room; never throws. */
  private async deliverDue(): Promise<void> {
    try {
      if (this.identity.draining) return;
      const rooms = new Map<string, number>();
      for (const [endpointId, stream] of this.streams) {
        const room = this.config.endpointConcurrency - stream.gate.running - stream.gate.waiting;
        if (room > 0) rooms.set(endpointId, room);
      }
      const claimed = await this.repository.claim(this.identity.id, this.leaseMs, rooms);
      for (const delivery of claimed) {
        const gate = this.streams.get(delivery.endpointId)?.gate;
        const send = () => this.sending.run(() => this.deliver(delivery));
        const sending: Promise<void> = (gate === undefined ? send() : gate.run(send)).finally(
          () => {
            this.inFlight.delete(sending);
            this.deliverTask.runSoon();
          },
        );
        this.inFlight.add(sending);
      }
    } catch (error) {
      this.logger.warn(`Claiming webhook deliveries failed: ${errorMessage(error)}`);
    }
  }

  /**
   * One retried attempt, then recorded with the attempts that ended meanwhile (one transaction
   * for them all); a failure to record leaves the leases to expire (sent again).
   */
  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const result = await this.sender.send({
      url: delivery.url,
      secret: delivery.secret,
      eventId: delivery.eventId,
      body: delivery.body,
      traceParent: delivery.traceParent,
    });
    webhookMetrics.attempt(delivery.endpointId, result.outcome, result.latencyMs);
    const retryInMs =
      result.outcome === 'delivered'
        ? undefined
        : retryDelayMs(delivery.attempts + 1, this.config.retryScheduleMs);
    await this.recording.submit({ delivery, result, retryInMs });
  }

  /** A batch of retried attempts and the notifications they delivered, in one transaction. */
  private async recordRetries(attempts: AttemptToRecord[]): Promise<void> {
    try {
      const { health, changes } = await this.tx.run(async () => {
        const health = await this.repository.recordAttempts(
          this.identity.id,
          attempts,
          this.config.disableAfterMs,
        );
        const changes = await this.notifications.recordHandedOff(
          attempts
            .filter((a) => a.result.outcome === 'delivered')
            .flatMap((a) => a.delivery.notificationId ?? []),
        );
        return { health, changes };
      });
      await this.announce(changes);
      this.reportFailures(
        attempts.map((a) => ({
          deliveryId: a.delivery.id,
          endpointId: a.delivery.endpointId,
          attempts: a.delivery.attempts + 1,
          result: a.result,
          retryInMs: a.retryInMs,
        })),
        health,
      );
    } catch (error) {
      this.logger.warn(
        `Recording ${attempts.length} webhook attempt(s) failed: ${errorMessage(error)}`,
      );
    }
  }

  /** Logs the deliveries failed for good and the endpoints disabled for failing too long. */
  private reportFailures(
    attempts: readonly {
      deliveryId: string;
      endpointId: string;
      attempts: number;
      result: AttemptResult;
      retryInMs: number | undefined;
    }[],
    health: readonly (EndpointHealth & { endpointId: string })[],
  ): void {
    let gaveUp = false;
    for (const a of attempts) {
      if (a.result.outcome === 'delivered' || a.retryInMs !== undefined) continue;
      gaveUp = true;
      this.logger.warn(
        `Webhook delivery ${a.deliveryId} to endpoint ${a.endpointId} failed for good after ${a.attempts} attempt(s) (${a.result.error ?? a.result.outcome})`,
      );
    }
    for (const endpoint of health) {
      if (endpoint.enabled) continue;
      webhookMetrics.disabled();
      this.logger.warn(
        `Webhook endpoint ${endpoint.endpointId} disabled: failing for longer than WEBHOOK_DISABLE_AFTER`,
      );
    }
    // A notification whose last delivery failed may now be undeliverable.
    if (gaveUp && this.notifications.failsWithWebhooks) this.streamTask.runSoon();
  }

  /** Fails the pending notifications no webhook will deliver any more (webhooks alone). */
  private async failUndeliverable(): Promise<void> {
    if (!this.notifications.failsWithWebhooks) return;
    const changes = await this.tx.run(async () =>
      this.notifications.recordUndeliverable(await this.repository.undeliverableNotifications()),
    );
    await this.announce(changes);
  }

  /** Tells the cache (and other observers) of the sagas whose notification changed state. */
  private async announce(changes: readonly DeliveryChange[]): Promise<void> {
    await Promise.all(
      changes.map((change) =>
        this.bus.emitAsync(SAGA_CHANGED, notificationDeliveryChanged(change)),
      ),
    );
  }

  private async readGauge(): Promise<void> {
    const now = Date.now();
    if (now - this.gaugeReadAt < GAUGE_EVERY_MS) return;
    this.gaugeReadAt = now;
    webhookMetrics.failing(await this.repository.failingEndpoints());
  }
}
