import { StepOutcome, StepRunner } from '../core/step-runner';
import { StaleSagaError } from '../core/transition';
import type { SagaContext, StepName } from '../core/saga';
import type { SagaStep } from '../core/steps/saga-step';
import type { SagaSteps } from '../core/steps/saga-steps';
import type { ChoreographyEngine } from './choreography.engine';
import { ItemParticipant, NotificationParticipant, UserParticipant } from './participants';
import type { SagaEventEnvelope, SagaSnapshot } from './saga-events';

const ORDER: StepName[] = ['user_validation', 'item_grant', 'log_record', 'notification'];

const context: SagaContext = {
  transactionId: 'TXN_1',
  pattern: 'choreography',
  userId: 'user-1',
  itemId: 'item-1',
  quantity: 1,
  total: '10.00',
};

function envelope(saga: Partial<SagaSnapshot> = {}, data = {}): SagaEventEnvelope {
  return {
    eventId: 'EVT_1',
    eventType: 'PurchaseInitiated',
    transactionId: 'TXN_1',
    causationId: null,
    occurredAt: '2030-01-01T00:00:00.000Z',
    saga: {
      context,
      version: 1,
      status: 'in_progress',
      startedAt: '2030-01-01T00:00:00.000Z',
      completed: [],
      compensated: [],
      ...saga,
    },
    data,
  };
}

/** What the participant asked the runner and the choreography to do. */
function setup(
  forward: () => Promise<StepOutcome> = () => Promise.resolve({ kind: 'done', data: {} }),
) {
  const calls: string[] = [];
  const ordered = ORDER.map((name) => ({ name }) as SagaStep);
  const steps = {
    ordered,
    get: (name: StepName) => ordered[ORDER.indexOf(name)],
    indexOf: (name: StepName) => ORDER.indexOf(name),
    isPastPivot: (name: StepName) => ORDER.indexOf(name) > 2,
  } as unknown as SagaSteps;
  const runner = {
    forward: (_saga: unknown, step: SagaStep, isLast: boolean) => {
      calls.push(`forward ${step.name}${isLast ? ' (last)' : ''}`);
      return forward();
    },
    recordFailure: (_saga: unknown, step: SagaStep) => {
      calls.push(`recordFailure ${step.name}`);
      return Promise.resolve();
    },
    giveUp: (_saga: unknown, step: SagaStep) => {
      calls.push(`giveUp ${step.name}`);
      return Promise.resolve();
    },
    compensate: (_saga: unknown, step: SagaStep, isLast: boolean) => {
      calls.push(`compensate ${step.name}${isLast ? ' (last)' : ''}`);
      return forward().then(() => 'done' as const);
    },
  } as unknown as StepRunner;
  const choreography = {
    hook: () => ({ write: () => Promise.resolve(), committed: [] }),
    publish: () => calls.push('publish'),
  } as unknown as ChoreographyEngine;
  return {
    calls,
    user: new UserParticipant(steps, runner, choreography),
    item: new ItemParticipant(steps, runner, choreography),
    notification: new NotificationParticipant(steps, runner, choreography),
  };
}

const refusal: StepOutcome = {
  kind: 'refused',
  error: { step: 'item_grant', code: 'INSUFFICIENT_STOCK', message: 'Sold out' },
};

describe('choreography participants', () => {
  it('run their step on the event before it and publish what committed', async () => {
    const { user, calls } = setup();
    await user.onPurchaseInitiated(envelope());
    expect(calls).toEqual(['forward user_validation', 'publish']);
  });

  it('record a refusal before the pivot', async () => {
    const { item, calls } = setup(() => Promise.resolve(refusal));
    await item.onUserValidated(envelope({ completed: ['user_validation'] }));
    expect(calls).toEqual(['forward item_grant', 'recordFailure item_grant', 'publish']);
  });

  it('give up past the pivot, completing the purchase', async () => {
    const { notification, calls } = setup(() => Promise.resolve({ ...refusal, kind: 'failed' }));
    await notification.onLogRecorded(
      envelope({ completed: ['user_validation', 'item_grant', 'log_record'] }),
    );
    expect(calls).toEqual(['forward notification (last)', 'giveUp notification', 'publish']);
  });

  it.each<[string, Partial<SagaSnapshot>]>([
    ['a saga of the other pattern', { context: { ...context, pattern: 'orchestration' } }],
    ['a finished saga', { status: 'failed' }],
    ['a step already done', { completed: ['user_validation'] }],
  ])('ignore an event about %s', async (_name, saga) => {
    const { user, calls } = setup();
    await user.onPurchaseInitiated(envelope(saga));
    expect(calls).toEqual([]);
  });

  it('do nothing, and publish nothing, when another handler moved the saga first', async () => {
    const { user, calls } = setup(() => Promise.reject(new StaleSagaError('TXN_1')));
    await expect(user.onPurchaseInitiated(envelope())).resolves.toBeUndefined();
    expect(calls).toEqual(['forward user_validation']);
  });

  it('let other failures through for the event to be retried', async () => {
    const { user } = setup(() => Promise.reject(new Error('connection reset')));
    await expect(user.onPurchaseInitiated(envelope())).rejects.toThrow('connection reset');
  });

  it('undo their step only when it is the next to undo', async () => {
    const { user, item, calls } = setup();
    const event = envelope(
      { status: 'compensating', completed: ['user_validation', 'item_grant'] },
      { remaining: ['item_grant', 'user_validation'] },
    );

    await user.onCompensation(event);
    await item.onCompensation(event);

    expect(calls).toEqual(['compensate item_grant', 'publish']);
  });

  it('undo the last step and ignore repeated or foreign compensation events', async () => {
    const { user, calls } = setup();
    const base = { status: 'compensating' as const, completed: ['user_validation' as StepName] };

    await user.onCompensation(envelope(base, { remaining: ['user_validation'] }));
    await user.onCompensation(envelope(base, {}));
    await user.onCompensation(
      envelope({ ...base, compensated: ['user_validation'] }, { remaining: ['user_validation'] }),
    );
    await user.onCompensation(
      envelope(
        { ...base, context: { ...context, pattern: 'orchestration' } },
        { remaining: ['user_validation'] },
      ),
    );

    expect(calls).toEqual(['compensate user_validation (last)', 'publish']);
  });
});
