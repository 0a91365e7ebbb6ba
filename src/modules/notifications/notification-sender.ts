import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../config/configuration';
import { InfrastructureError } from '../../common/errors/domain-error';

export type NotificationType = 'purchase_success' | 'purchase_failed';
export type Channel = 'push' | 'email' | 'sms';

export const CHANNELS_BY_TYPE: Record<NotificationType, Channel[]> = {
  purchase_success: ['push', 'email'],
  purchase_failed: ['email'],
};

/**
 * A simulated sender: it delivers nothing, and fails a configured share of the sends
 * (NOTIFICATION_FAILURE_RATE) the way a flaky provider would.
 */
@Injectable()
export class NotificationSender {
  private readonly failureRate: number;

  constructor(config: ConfigService<AppConfig, true>) {
    this.failureRate = config.get('notificationFailureRate', { infer: true });
  }

  send(message: {
    userId: string;
    channels: Channel[];
    text: string;
  }): Promise<{ channels: Channel[] }> {
    if (this.failureRate > 0 && Math.random() < this.failureRate) {
      return Promise.reject(
        new InfrastructureError(`Notification provider refused the send to ${message.userId}`),
      );
    }
    return Promise.resolve({ channels: message.channels });
  }
}
