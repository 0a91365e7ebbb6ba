import type { StepName } from '../saga';
import type { SagaStep } from './saga-step';
import { PURCHASE_SAGA_V1 } from '../definition/purchase-saga.definition';
import { SagaSteps, stepsOf } from './saga-steps';

function fake(name: StepName, pivot = false): SagaStep {
  return { name, pivot, execute: () => Promise.resolve([]) };
}

const steps = new SagaSteps([
  fake('user_validation'),
  fake('item_grant'),
  fake('log_record', true),
  fake('notification'),
]);

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

  it('says the purchase stands once the pivot or a step after it committed', () => {
    expect(steps.pivotCommitted([])).toBe(false);
    expect(steps.pivotCommitted(['user_validation', 'item_grant'])).toBe(false);
    expect(steps.pivotCommitted(['user_validation', 'item_grant', 'log_record'])).toBe(true);
    expect(steps.isLast('notification')).toBe(true);
    expect(steps.isLast('log_record')).toBe(false);
  });

  it('finds a step by name and refuses an unknown one', () => {
    expect(steps.get('log_record').name).toBe('log_record');
    expect(() => steps.get('refund' as StepName)).toThrow('Unknown step refund');
  });

  it('builds the steps only as the definition declares them', () => {
    const undo = () => Promise.resolve({});
    const [user, item, log, notification] = [
      { ...fake('user_validation'), compensate: undo },
      { ...fake('item_grant'), compensate: undo },
      { ...fake('log_record', true), compensate: undo },
      fake('notification'),
    ];
    expect(stepsOf(PURCHASE_SAGA_V1, [user, item, log, notification]).pivotIndex).toBe(2);
    expect(() => stepsOf(PURCHASE_SAGA_V1, [item, user, log, notification])).toThrow(
      'the code has item_grant',
    );
    expect(() =>
      stepsOf(PURCHASE_SAGA_V1, [user, item, log, { ...notification, compensate: undo }]),
    ).toThrow('notification (no undo)');
  });
});
