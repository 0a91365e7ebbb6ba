import {
  isDatabaseUnavailable,
  isStatementTimeout,
  isTransientDatabaseError,
  isUniqueViolation,
} from './database-errors';

describe('database errors', () => {
  it('knows an unreachable database by its code, however deeply wrapped, or by its wording', () => {
    expect(isDatabaseUnavailable({ code: 'ECONNREFUSED' })).toBe(true);
    expect(isDatabaseUnavailable({ driverError: { code: '57P01' } })).toBe(true);
    expect(isDatabaseUnavailable(new Error('x', { cause: { code: '08006' } }))).toBe(true);
    expect(isDatabaseUnavailable({ code: '3D000' })).toBe(true);
    expect(isDatabaseUnavailable({ code: '53300' })).toBe(true);
    expect(isDatabaseUnavailable({ code: '28P01' })).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable('Cannot use a pool after calling end on the pool')).toBe(true);
  });

  it('does not mistake a failed statement for an outage', () => {
    expect(isDatabaseUnavailable({ code: '23505' })).toBe(false);
    expect(isDatabaseUnavailable(new Error('syntax error at or near "SELEC"'))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });

  it('retries serialization failures, deadlocks and outages only', () => {
    expect(isTransientDatabaseError({ code: '40001' })).toBe(true);
    expect(isTransientDatabaseError({ code: '40P01' })).toBe(true);
    expect(isTransientDatabaseError({ code: 'ECONNRESET' })).toBe(true);
    expect(isTransientDatabaseError({ code: '23514' })).toBe(false);
  });

  it('knows a statement cut off by its statement timeout from one cancelled otherwise', () => {
    const timedOut = Object.assign(new Error('canceling statement due to statement timeout'), {
      code: '57014',
    });
    const cancelled = Object.assign(new Error('canceling statement due to user request'), {
      code: '57014',
    });
    expect(isStatementTimeout(timedOut)).toBe(true);
    expect(isStatementTimeout(cancelled)).toBe(false);
    expect(isStatementTimeout(new Error('statement timeout'))).toBe(false);
    expect(isDatabaseUnavailable(timedOut)).toBe(false);
  });

  it('recognises a unique violation, optionally of one constraint', () => {
    const error = { code: '23505', driverError: { constraint: 'uq_a' } };
    expect(isUniqueViolation(error)).toBe(true);
    expect(isUniqueViolation(error, 'uq_a')).toBe(true);
    expect(isUniqueViolation(error, 'uq_b')).toBe(false);
    expect(isUniqueViolation({ code: '23505', constraint: 'uq_b' }, 'uq_b')).toBe(true);
    expect(isUniqueViolation({ code: '23503' })).toBe(false);
  });
});
