import type { StepName } from '../saga';
import type { ItemGrantStep } from './item-grant.step';
import type { LogRecordStep } from './log-record.step';
import type { NotificationStep } from './notification.step';
import type { SagaStep } from './saga-step';
import { SagaSteps } from './saga-steps';
import type { UserValidationStep } from './user-validation.step';

function fake(name: StepName, pivot = false): SagaStep {
  return { name, pivot, execute: () => Promise.resolve([]) };
}

const steps = new SagaSteps(
  fake('user_validation') as unknown as UserValidationStep,
  fake('item_grant') as unknown as ItemGrantStep,
  fake('log_record', true) as unknown as LogRecordStep,
  fake('notification') as unknown as NotificationStep,
);

describe('SagaSteps', () => {
  it('walks the steps in order, from the start to past the last', () => {
    expect(steps.next(null)?.name).toBe('user_validation');
    expect(steps.next('user_validation')?.name).toBe('item_grant');
    expect(steps.next('log_record')?.name).toBe('notification');
    expect(steps.next('notification')).toBeUndefined();
  });

  it('places only the steps after the pivot past it', () => {
    expect(steps.pivotIndex).toBe(2);
    expect(steps.isPastPivot('item_grant')).toBe(false);
    expect(steps.isPastPivot('log_record')).toBe(false);
    expect(steps.isPastPivot('notification')).toBe(true);
  });

  it('finds a step by name and refuses an unknown one', () => {
    expect(steps.get('log_record').name).toBe('log_record');
    expect(() => steps.get('refund' as StepName)).toThrow('Unknown step refund');
  });
});
