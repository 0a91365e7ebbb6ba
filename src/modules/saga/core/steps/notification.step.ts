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

/**
 * Step 4, past the pivot: record the user's notification, whose delivery the saga's
 * `notification.requested` event queues in the same transaction. Retried; if it keeps failing
 * the purchase still stands. Delivery has its own state on the notification row.
 */
@Injectable()
export class NotificationStep implements SagaStep {
  readonly name = 'notification' as const;

  constructor(private readonly notifications: NotificationsService) {}

  async execute(contexts: readonly SagaContext[]): Promise<StepAttempt[]> {
    const requested = await this.notifications.requestMany(contexts.map(purchaseMessage));
    return requested.map((outcome): StepAttempt => {
      if (outcome.kind !== 'value') return outcome;
      const { notificationId, channels, status, error } = outcome.value;
      const data: StepData = { notificationId, channels, status };
      if (error !== null) data.error = error;
      return { kind: 'value', value: data };
    });
  }

  async giveUp(context: SagaContext, reason: string): Promise<StepData> {
    const failed = await this.notifications.recordFailure(purchaseMessage(context), reason);
    return { notificationId: failed.notificationId, channels: failed.channels, status: 'failed' };
  }
}
