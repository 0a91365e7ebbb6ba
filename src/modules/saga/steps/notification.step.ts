import { Injectable } from '@nestjs/common';
import { NotificationsService } from '../../notifications/notifications.service';
import type { SagaContext, StepData } from '../saga.types';
import type { SagaStep } from './saga-step';

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

  async execute(context: SagaContext): Promise<StepData> {
    const sent = await this.notifications.send(purchaseMessage(context));
    return { notificationId: sent.notificationId, channels: sent.channels, sentAt: sent.sentAt };
  }

  async giveUp(context: SagaContext, reason: string): Promise<StepData> {
    const failed = await this.notifications.recordFailure(purchaseMessage(context), reason);
    return { notificationId: failed.notificationId, channels: failed.channels, status: 'failed' };
  }
}
