import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { BatchOutcome } from '../../common/batch-queue';
import { timeOrderedId } from '../../common/time-ordered-id';
import type { AppConfig } from '../../config/configuration';
import type { NotificationStatus } from './notification.entity';
import {
  configuredChannels,
  NO_CHANNEL,
  NO_SUBSCRIBER,
  webhooksGaveUp,
  type Channel,
  type NotificationType,
} from './notification-delivery';
import { NotificationsRepository, type DeliveryChange } from './notifications.repository';
import { SimulatedNotificationFailure } from './simulated-failure';

export type { DeliveryChange } from './notifications.repository';

export interface NotificationOutcome {
  notificationId: string;
  status: NotificationStatus;
  channels: string[];
  error: string | null;
}

export interface NotificationInput {
  transactionId: string;
  userId: string;
  type: NotificationType;
  message: string;
}

/**
 * The user's notifications and the one rule of their delivery. A notification is recorded with
 * its purchase's last step, and handed to the outside as that step's `notification.requested`
 * integration event (JetStream and/or the webhooks subscribed to it). It is `delivered` at its
 * first successful hand-off to a channel, and `failed` once no channel will deliver it: none is
 * configured, or, without JetStream, every webhook delivery of its event failed (or no endpoint
 * is subscribed). A delivered one never goes back; a failed one a re-sent webhook delivers
 * becomes delivered. The relay and the webhooks call the `record…` methods inside their own
 * transactions, so a crash never leaves a hand-off and its notification apart.
 */
@Injectable()
export class NotificationsService implements OnModuleInit {
  private readonly logger = new Logger(NotificationsService.name);
  private readonly channels: Channel[];
  /** JetStream delivers whatever the webhooks do not: a notification then never fails. */
  private readonly brokerConfigured: boolean;

  constructor(
    private readonly notifications: NotificationsRepository,
    private readonly simulated: SimulatedNotificationFailure,
    config: ConfigService<AppConfig, true>,
  ) {
    this.channels = configuredChannels(config.get('events', { infer: true }));
    this.brokerConfigured = this.channels.includes('jetstream');
  }

  onModuleInit(): void {
    if (this.channels.length > 0) return;
    this.logger.warn(
      'Notifications are recorded but not delivered: no channel is configured. Set NATS_URL ' +
        '(JetStream) and/or WEBHOOKS_ENABLED=true with an endpoint subscribed to ' +
        'notification.requested.',
    );
  }

  /**
   * Records notifications (in one statement), inside the step's transaction: `pending` until a
   * channel takes them, or `failed` at once when none is configured. A simulated failure is that
   * notification's error (the caller retries it) and records nothing.
   */
  async requestMany(
    inputs: readonly NotificationInput[],
  ): Promise<BatchOutcome<NotificationOutcome>[]> {
    const struck = inputs.map((input) => {
      try {
        this.simulated.strike(input.userId);
        return undefined;
      } catch (error) {
        return error;
      }
    });
    const requested = inputs.filter((_, index) => struck[index] === undefined);
    const undeliverable = this.channels.length === 0;
    const recorded = await this.record(
      requested,
      undeliverable ? 'failed' : 'pending',
      undeliverable ? NO_CHANNEL : null,
    );
    if (undeliverable) {
      for (const outcome of recorded) {
        this.logger.debug(`Notification ${outcome.notificationId} not delivered: no channel`);
      }
    }
    let next = 0;
    return struck.map((error) =>
      error === undefined
        ? { kind: 'value', value: recorded[next++] }
        : { kind: 'error', error: error as unknown },
    );
  }

  /** Records a notification the step gave up on after its retries (never handed to a channel). */
  async recordFailure(input: NotificationInput, error: string): Promise<NotificationOutcome> {
    const [outcome] = await this.record([input], 'failed', error);
    return outcome;
  }

  /** A channel took these notifications (JetStream acknowledged, or a webhook answered 2xx). */
  recordHandedOff(notificationIds: readonly string[]): Promise<DeliveryChange[]> {
    if (notificationIds.length === 0) return Promise.resolve([]);
    return this.notifications.markDelivered(notificationIds);
  }

  /** Whether the webhooks alone decide these notifications' failure (JetStream is not on). */
  get failsWithWebhooks(): boolean {
    return !this.brokerConfigured && this.channels.includes('webhooks');
  }

  /**
   * No webhook will deliver these pending notifications any more: every delivery of their
   * events failed (`sent`, with the last error), or no endpoint took them. With JetStream on
   * they are its to deliver, and nothing changes.
   */
  async recordUndeliverable(
    notifications: readonly { notificationId: string; lastError: string | null; sent: boolean }[],
  ): Promise<DeliveryChange[]> {
    if (!this.failsWithWebhooks || notifications.length === 0) return [];
    const byReason = new Map<string, string[]>();
    for (const { notificationId, lastError, sent } of notifications) {
      const reason = sent ? webhooksGaveUp(lastError) : NO_SUBSCRIBER;
      byReason.set(reason, [...(byReason.get(reason) ?? []), notificationId]);
    }
    const changes: DeliveryChange[] = [];
    for (const [reason, ids] of byReason) {
      changes.push(...(await this.notifications.markFailed(ids, reason)));
    }
    return changes;
  }

  private async record(
    inputs: readonly NotificationInput[],
    status: NotificationStatus,
    error: string | null,
  ): Promise<NotificationOutcome[]> {
    if (inputs.length === 0) return [];
    const rows = await this.notifications.upsertMany(
      inputs.map((input) => ({
        notificationId: `NOTIF_${timeOrderedId()}`,
        transactionId: input.transactionId,
        userId: input.userId,
        type: input.type,
        message: input.message,
        channels: this.channels,
        status,
        attempts: 1,
        error,
      })),
    );
    if (rows.length !== inputs.length) {
      throw new Error(`${inputs.length - rows.length} notification(s) were not recorded`);
    }
    return rows.map((row) => ({
      notificationId: row.notification_id,
      status: row.status,
      channels: row.channels,
      error: row.error,
    }));
  }
}
