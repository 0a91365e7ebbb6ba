import { Injectable } from '@nestjs/common';
import { moneyToJson } from '../../../../common/money';
import { UsersService } from '../../../users/users.service';
import type { SagaContext, StepData } from '../saga';
import type { SagaStep, StepAttempt } from './saga-step';

/** Step 1: the user may buy (exists, active, within limit and balance); debit the total. */
@Injectable()
export class UserValidationStep implements SagaStep {
  readonly name = 'user_validation' as const;

  constructor(private readonly users: UsersService) {}

  async execute(contexts: readonly SagaContext[]): Promise<StepAttempt[]> {
    const debits = await this.users.debitForPurchases(
      contexts.map((context) => ({ userId: context.userId, total: context.total })),
    );
    return debits.map((debit, index): StepAttempt => {
      if (debit.kind !== 'value') return debit;
      const context = contexts[index];
      return {
        kind: 'value',
        value: {
          isValid: true,
          userId: context.userId,
          amount: moneyToJson(context.total),
          balanceBefore: moneyToJson(debit.value.balanceBefore),
          balanceAfter: moneyToJson(debit.value.balanceAfter),
        },
      };
    });
  }

  async compensate(context: SagaContext): Promise<StepData> {
    const refund = await this.users.refundPurchase(context.userId, context.total);
    return {
      refunded: moneyToJson(context.total),
      userId: context.userId,
      balanceAfter: moneyToJson(refund.balanceAfter),
    };
  }
}
