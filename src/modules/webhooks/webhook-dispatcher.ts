import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { BatchQueue } from '../../common/batch-queue';
import { errorMessage } from '../../common/errors/error-message';
import { PeriodicTask } from '../../common/periodic-task';
import type { AppConfig, WebhooksConfig } from '../../config/configuration';
import { TransactionHost } from '../../database/transaction-host';
import { relayMetrics } from '../events/relay-metrics';
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
import { WebhookSender } from './webhook-sender';
import {
  WebhooksRepository,
  type AttemptToRecord,
  type ClaimedDelivery,
} from './webhooks.repository';

/** The name of the webhooks in the relay's metrics (`sink` label). */
export const WEBHOOK_SINK = 'webhooks';
/** Integration events fanned out per statement. */
const FAN_OUT_BATCH = 500;
/** Attempts recorded per transaction at most. */
const RECORD_BATCH = 500;
/** How long settling sagas gather before their events are fanned out (ms). */
const WAKE_LINGER_MS = 20;
/** A lease outlives the attempt's deadline by this much, then another instance may retry. */
const LEASE_MARGIN_MS = 30_000;
/** The failing endpoints' gauge is read again at most this often (ms). */
const GAUGE_EVERY_MS = 5000;

/**
 * Delivers the integration events to the webhook endpoints, in two independent loops over the
 * database. The fan-out turns each new event into one delivery row per subscribed endpoint (its
 * own progress, `webhooks_at`: the broker relay never waits for it, nor it for the broker). The
 * delivery loop leases due deliveries, at most WEBHOOK_ENDPOINT_CONCURRENCY in flight per
 * endpoint over all instances, and posts them without waiting for one another: a slow or failing
 * endpoint only holds back its own deliveries.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private readonly config: WebhooksConfig;
  private readonly sender: WebhookSender;
  private readonly fanOutTask: PeriodicTask;
  private readonly deliverTask: PeriodicTask;
  private readonly inFlight = new Set<Promise<void>>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private gaugeReadAt = 0;
  private fanOutFailing = false;
  /** Attempts that ended, recorded together (one transaction at a time). */
  private readonly recording = new BatchQueue<AttemptToRecord, void>(
    async (batch) => {
      await this.recordBatch(batch);
      return batch.map(() => ({ kind: 'value', value: undefined }));
    },
    { maxBatch: RECORD_BATCH, concurrency: 1 },
  );

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly notifications: NotificationsService,
    private readonly tx: TransactionHost,
    private readonly identity: InstanceIdentity,
    private readonly bus: EventEmitter2,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('events', { infer: true }).webhooks;
    this.sender = new WebhookSender(this.config);
    this.fanOutTask = new PeriodicTask(() => this.fanOutAll(), this.config.pollMs);
    this.deliverTask = new PeriodicTask(() => this.deliverDue(), this.config.pollMs);
  }

  onApplicationBootstrap(): void {
    if (!this.config.enabled) return;
    this.bus.on(SAGA_CHANGED, this.onChanged);
    this.fanOutTask.start();
    this.deliverTask.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.config.enabled) return;
    this.bus.off(SAGA_CHANGED, this.onChanged);
    clearTimeout(this.wakeTimer);
    await Promise.all([this.fanOutTask.stop(), this.deliverTask.stop()]);
    // Bounded by the attempts' deadline; what is cut short is retried once its lease expires.
    await Promise.allSettled([...this.inFlight]);
  }

  /** Looks for due deliveries now (a test, a re-send, an endpoint enabled again). */
  wake(): void {
    if (this.config.enabled) this.deliverTask.runSoon();
  }

  private readonly onChanged = (event: SagaChangedEvent): void => {
    // Integration events are written as a saga settles.
    if (!isTerminal(event.status)) return;
    if (this.wakeTimer !== undefined) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.fanOutTask.runSoon();
    }, WAKE_LINGER_MS);
  };

  /** Fans out every event not yet handed to the webhooks; never throws. */
  private async fanOutAll(): Promise<void> {
    try {
      for (;;) {
        // A notification no endpoint takes is settled with its event's fan-out.
        const { events, deliveries, changes } = await this.tx.run(async () => {
          const fanned = await this.repository.fanOut(FAN_OUT_BATCH);
          return {
            ...fanned,
            changes: await this.notifications.recordUnsubscribed(fanned.unsubscribedNotifications),
          };
        });
        await this.announce(changes);
        if (events > 0) relayMetrics.published(WEBHOOK_SINK, events);
        if (deliveries > 0) this.deliverTask.runSoon();
        if (events < FAN_OUT_BATCH) break;
      }
      if (this.fanOutFailing) {
        this.fanOutFailing = false;
        this.logger.log('Integration events are fanned out to the webhooks again');
      }
    } catch (error) {
      relayMetrics.failed(WEBHOOK_SINK, 1);
      if (!this.fanOutFailing) {
        this.fanOutFailing = true;
        this.logger.warn(
          `Fanning integration events out to the webhooks failed: ${errorMessage(error)}`,
        );
      }
    }
  }

  /** Leases what this instance has room for and starts sending it; never throws. */
  private async deliverDue(): Promise<void> {
    try {
      await this.readGauge();
      if (this.identity.draining) return;
      const room = this.config.concurrency - this.inFlight.size;
      if (room <= 0) return;
      const claimed = await this.repository.claim(
        this.identity.id,
        this.config.timeoutMs + LEASE_MARGIN_MS,
        room,
        this.config.endpointConcurrency,
      );
      for (const delivery of claimed) {
        const sending: Promise<void> = this.deliver(delivery).finally(() => {
          this.inFlight.delete(sending);
          this.deliverTask.runSoon();
        });
        this.inFlight.add(sending);
      }
    } catch (error) {
      this.logger.warn(`Claiming webhook deliveries failed: ${errorMessage(error)}`);
    }
  }

  /**
   * One attempt, then recorded with the attempts that ended meanwhile (one transaction for them
   * all); a failure to record leaves the leases to expire (sent again).
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

  /**
   * A batch of attempts and what they mean for the notifications their deliveries carry, in one
   * transaction: delivered at a 2xx; failed once every delivery of its event failed for good.
   */
  private async recordBatch(attempts: AttemptToRecord[]): Promise<void> {
    try {
      const carried = (a: AttemptToRecord) => a.delivery.notificationId;
      const { recorded, changes } = await this.tx.run(async () => {
        await this.notifications.beforeWebhookOutcomes(
          attempts.map(carried).filter((id) => id !== undefined),
        );
        const recorded = await this.repository.recordAttempts(
          this.identity.id,
          attempts,
          this.config.disableAfterMs,
        );
        const changes = await this.notifications.recordHandedOff(
          attempts
            .filter((a) => a.result.outcome === 'delivered')
            .map(carried)
            .filter((id) => id !== undefined),
        );
        const gaveUp = new Set(recorded.eventsGaveUp);
        for (const a of attempts) {
          const notificationId = carried(a);
          if (notificationId === undefined || !gaveUp.has(a.delivery.eventId)) continue;
          gaveUp.delete(a.delivery.eventId);
          changes.push(
            ...(await this.notifications.recordWebhooksGaveUp(
              notificationId,
              a.result.error ??
                (a.result.statusCode === null ? null : `HTTP ${a.result.statusCode}`),
            )),
          );
        }
        return { recorded, changes };
      });
      await this.announce(changes);
      for (const a of attempts) {
        if (a.result.outcome !== 'delivered' && a.retryInMs === undefined) {
          this.logger.warn(
            `Webhook delivery ${a.delivery.id} to endpoint ${a.delivery.endpointId} failed for good after ${a.delivery.attempts + 1} attempt(s) (${a.result.error ?? a.result.outcome})`,
          );
        }
      }
      for (const health of recorded.endpoints) {
        if (health.enabled) continue;
        webhookMetrics.disabled();
        this.logger.warn(
          `Webhook endpoint ${health.endpointId} disabled: failing for longer than WEBHOOK_DISABLE_AFTER`,
        );
      }
    } catch (error) {
      this.logger.warn(
        `Recording ${attempts.length} webhook attempt(s) failed: ${errorMessage(error)}`,
      );
    }
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
