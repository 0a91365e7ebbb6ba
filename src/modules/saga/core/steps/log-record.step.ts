import { Injectable } from '@nestjs/common';
import { TransactionLogsService } from '../../../logs/transaction-logs.service';
import type { SagaContext, StepData } from '../saga';
import type { SagaStep, StepAttempt } from './saga-step';

/** Step 3, the pivot: the purchase is logged as completed; from here it can only go forward. */
@Injectable()
export class LogRecordStep implements SagaStep {
  readonly name = 'log_record' as const;
  readonly pivot = true;

  constructor(private readonly logs: TransactionLogsService) {}

  async execute(contexts: readonly SagaContext[]): Promise<StepAttempt[]> {
    const logs = await this.logs.recordPurchases(
      contexts.map((context) => ({
        transactionId: context.transactionId,
        userId: context.userId,
        itemId: context.itemId,
        quantity: context.quantity,
        price: context.total,
        metadata: { event: 'PURCHASE_COMPLETED', pattern: context.pattern },
      })),
    );
    return logs.map((log): StepAttempt =>
      log.kind === 'value'
        ? { kind: 'value', value: { logId: log.value.logId, recordedAt: log.value.recordedAt } }
        : log,
    );
  }

  // The contract's undo of step 3. The engines never reach it (a committed pivot completes the
  // saga), but an admin re-drive of a saga refused at the pivot relies on it being idempotent.
  async compensate(context: SagaContext): Promise<StepData> {
    const log = await this.logs.compensatePurchase(context.transactionId);
    return { logId: log.logId, status: 'compensated' };
  }
}
