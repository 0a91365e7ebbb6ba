import { Injectable } from '@nestjs/common';
import { NotificationsService } from '../../../notifications/notifications.service';
import type { SagaContext, StepData } from '../saga';
import type { SagaStep, StepAttempt } from './saga-step';

function purchaseMessage(context: SagaContext): {
  transactionId: string;
  userId: string;
  type: 'purchase_success';
  message: string;
} {
  return {
    transactionId: context.transactionId,
    userId: context.userId,
    type: 'purchase_success',
    message: `Purchase of ${context.quantity} x ${context.itemId} completed`,
  };
}

/** Step 4, past the pivot: tell the user. Retried; if it keeps failing the purchase still stands. */
@Injectable()
export class NotificationStep implements SagaStep {
  readonly name = 'notification' as const;

  constructor(private readonly notifications: NotificationsService) {}

  async execute(contexts: readonly SagaContext[]): Promise<StepAttempt[]> {
    const sent = await this.notifications.sendMany(contexts.map(purchaseMessage));
    return sent.map((outcome): StepAttempt =>
      outcome.kind === 'value'
        ? {
            kind: 'value',
            value: {
              notificationId: outcome.value.notificationId,
              channels: outcome.value.channels,
              sentAt: outcome.value.sentAt,
            },
          }
        : outcome,
    );
  }

  async giveUp(context: SagaContext, reason: string): Promise<StepData> {
    const failed = await this.notifications.recordFailure(purchaseMessage(context), reason);
    return { notificationId: failed.notificationId, channels: failed.channels, status: 'failed' };
  }
}
