import { Injectable } from '@nestjs/common';
import type { BatchOutcome } from '../../common/batch-queue';
import { timeOrderedId } from '../../common/time-ordered-id';
import { CHANNELS_BY_TYPE, NotificationSender, NotificationType } from './notification-sender';
import { NotificationsRepository } from './notifications.repository';

export interface NotificationOutcome {
  notificationId: string;
  status: 'sent' | 'failed';
  channels: string[];
  sentAt: Date | null;
}

export interface NotificationInput {
  transactionId: string;
  userId: string;
  type: NotificationType;
  message: string;
}

@Injectable()
export class NotificationsService {
  constructor(
    private readonly notifications: NotificationsRepository,
    private readonly sender: NotificationSender,
  ) {}

  /**
   * Sends notifications and records the sent ones (in one statement). A failed send is that
   * notification's error (the caller retries it) and records nothing.
   */
  async sendMany(
    inputs: readonly NotificationInput[],
  ): Promise<BatchOutcome<NotificationOutcome>[]> {
    const sends = await Promise.allSettled(
      inputs.map((input) =>
        this.sender.send({
          userId: input.userId,
          channels: CHANNELS_BY_TYPE[input.type],
          text: input.message,
        }),
      ),
    );
    const sent = inputs.filter((_, index) => sends[index].status === 'fulfilled');
    const recorded = await this.record(sent, 'sent', null);
    let next = 0;
    return sends.map((send) =>
      send.status === 'rejected'
        ? { kind: 'error', error: send.reason as unknown }
        : { kind: 'value', value: recorded[next++] },
    );
  }

  /** Records a notification that could not be sent, after its retries were spent. */
  async recordFailure(input: NotificationInput, error: string): Promise<NotificationOutcome> {
    const [outcome] = await this.record([input], 'failed', error);
    return outcome;
  }

  private async record(
    inputs: readonly NotificationInput[],
    status: 'sent' | 'failed',
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
        channels: CHANNELS_BY_TYPE[input.type],
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
      status,
      channels: row.channels,
      sentAt: row.sent_at,
    }));
  }
}
