import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CHANNELS_BY_TYPE, NotificationSender, NotificationType } from './notification-sender';
import { NotificationsRepository } from './notifications.repository';

export interface NotificationOutcome {
  notificationId: string;
  status: 'sent' | 'failed';
  channels: string[];
  sentAt: Date | null;
}

@Injectable()
export class NotificationsService {
  constructor(
    private readonly notifications: NotificationsRepository,
    private readonly sender: NotificationSender,
  ) {}

  /**
   * Sends a notification and records it as sent. A failed send throws (the caller retries) and
   * records nothing.
   */
  async send(input: {
    transactionId: string;
    userId: string;
    type: NotificationType;
    message: string;
  }): Promise<NotificationOutcome> {
    const channels = CHANNELS_BY_TYPE[input.type];
    await this.sender.send({ userId: input.userId, channels, text: input.message });
    return this.record(input, 'sent', null);
  }

  /** Records a notification that could not be sent, after its retries were spent. */
  recordFailure(
    input: { transactionId: string; userId: string; type: NotificationType; message: string },
    error: string,
  ): Promise<NotificationOutcome> {
    return this.record(input, 'failed', error);
  }

  private async record(
    input: { transactionId: string; userId: string; type: NotificationType; message: string },
    status: 'sent' | 'failed',
    error: string | null,
  ): Promise<NotificationOutcome> {
    const row = await this.notifications.upsert({
      notificationId: `NOTIF_${randomUUID()}`,
      transactionId: input.transactionId,
      userId: input.userId,
      type: input.type,
      message: input.message,
      channels: CHANNELS_BY_TYPE[input.type],
      status,
      attempts: 1,
      error,
    });
    if (row === undefined)
      throw new Error(`Notification of ${input.transactionId} was not recorded`);
    return {
      notificationId: row.notification_id,
      status,
      channels: row.channels,
      sentAt: row.sent_at,
    };
  }
}
