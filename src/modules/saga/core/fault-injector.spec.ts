import { parseFaults } from './fault-injector';

describe('parseFaults', () => {
  it('reads every action, compensation targets and probabilities', () => {
    expect(
      parseFaults(
        'fail:log_record, crash-before:item_grant:0.5,delay-250:notification,crash-after:compensation:user_validation',
      ),
    ).toEqual([
      { action: 'fail', target: 'log_record', probability: 1, delayMs: 0 },
      { action: 'crash-before', target: 'item_grant', probability: 0.5, delayMs: 0 },
      { action: 'delay', target: 'notification', probability: 1, delayMs: 250 },
      { action: 'crash-after', target: 'compensation:user_validation', probability: 1, delayMs: 0 },
    ]);
  });

  it('is empty when unset', () => {
    expect(parseFaults('')).toEqual([]);
  });

  it.each([
    'fail',
    'fail:compensation',
    'explode:log_record',
    'fail:nope',
    'fail:log_record:2',
    'fail:compensation:nope',
  ])('refuses %s', (spec) => {
    expect(() => parseFaults(spec)).toThrow(/SAGA_FAULTS/);
  });
});
