import {
  compensationGaveUp,
  compensationGaveUpCondition,
  isSettled,
  remainingToCompensate,
  statusAfterFailure,
} from './saga';

describe('the saga rules', () => {
  it('tells a compensation that gave up from every other end', () => {
    expect(compensationGaveUp({ status: 'failed', errorCode: 'COMPENSATION_FAILED' })).toBe(true);
    expect(compensationGaveUp({ status: 'failed', errorCode: 'USER_NOT_ACTIVE' })).toBe(false);
    expect(compensationGaveUp({ status: 'compensating', errorCode: 'COMPENSATION_FAILED' })).toBe(
      false,
    );
    expect(isSettled({ status: 'failed', errorCode: 'COMPENSATION_FAILED' })).toBe(false);
    expect(isSettled({ status: 'compensated', errorCode: 'INSUFFICIENT_STOCK' })).toBe(true);
    expect(isSettled({ status: 'in_progress', errorCode: null })).toBe(false);
    // Re-driven to its end: compensated, keeping the code of the give-up.
    expect(isSettled({ status: 'compensated', errorCode: 'COMPENSATION_FAILED' })).toBe(true);
  });

  it('writes that rule as SQL in the words of its partial index', () => {
    expect(compensationGaveUpCondition()).toBe(
      "status = 'failed' AND error_code = 'COMPENSATION_FAILED'",
    );
    expect(compensationGaveUpCondition('s')).toBe(
      "s.status = 'failed' AND s.error_code = 'COMPENSATION_FAILED'",
    );
  });

  it('undoes newest first, and fails a saga with nothing to undo', () => {
    expect(
      remainingToCompensate({
        completed: ['user_validation', 'item_grant'],
        compensated: ['item_grant'],
      }),
    ).toEqual(['user_validation']);
    expect(statusAfterFailure({ completed: [] })).toBe('failed');
    expect(statusAfterFailure({ completed: ['user_validation'] })).toBe('compensating');
  });
});
