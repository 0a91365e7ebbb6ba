import type { ConfigService } from '@nestjs/config';
import { DomainError, InfrastructureError } from '../../../common/errors/domain-error';
import type { AppConfig } from '../../../config/configuration';
import type { TransactionHost } from '../../../database/transaction-host';
import type { FencedTransition, SagaRepository } from './saga.repository';
import { STEP_NAMES, type SagaContext, type SagaRecord, type StepName } from './saga';
import type { SagaStep, StepAttempt } from './steps/saga-step';
import type { SagaSteps } from './steps/saga-steps';
import { testIdentity } from './instance-identity.fixture';
import { StepBatches, type CommittedStep, type ForwardRequest } from './step-batches';
import { StaleSagaError, type HookedTransition } from './transition';

function saga(id: string, version = 1): SagaRecord {
  return {
    context: {
      transactionId: id,
      pattern: 'orchestration',
      userId: 'user-1',
      itemId: 'item-1',
      quantity: 1,
      total: '10.00',
    },
    status: 'in_progress',
    version,
    startedAt: new Date(),
    completed: [],
    compensated: [],
    error: null,
  };
}

/** A step recording each batch it is given, answering per saga what `answer` says. */
function step(
  name: StepName,
  answer: (context: SagaContext) => StepAttempt = () => ({ kind: 'value', value: { ok: true } }),
) {
  const batches: string[][] = [];
  const object: SagaStep = {
    name,
    execute: (contexts) => {
      batches.push(contexts.map((context) => context.transactionId));
      return Promise.resolve(contexts.map(answer));
    },
  };
  return { object, batches };
}

/** Sagas in memory: versions, the locks taken and the transitions applied, per transaction. */
class FakeSagas {
  versions = new Map<string, number>();
  locked: string[][] = [];
  applied: FencedTransition[][] = [];
  options: ({ locked?: boolean } | undefined)[] = [];

  lockAtVersions(sagas: { transactionId: string; version: number }[]): Promise<Set<string>> {
    this.locked.push(sagas.map((s) => s.transactionId));
    return Promise.resolve(
      new Set(
        sagas
          .filter((s) => (this.versions.get(s.transactionId) ?? 1) === s.version)
          .map((s) => s.transactionId),
      ),
    );
  }

  applyTransitions(
    transitions: FencedTransition[],
    options?: { locked?: boolean },
  ): Promise<(number | undefined)[]> {
    this.applied.push(transitions);
    this.options.push(options);
    return Promise.resolve(
      transitions.map((t) => {
        const next = t.expectedVersion + 1;
        this.versions.set(t.transactionId, next);
        return next;
      }),
    );
  }
}

function setup() {
  const sagas = new FakeSagas();
  let transactions = 0;
  const commits: number[] = [];
  const tx = {
    run: <T>(work: () => Promise<T>) => {
      transactions++;
      return work();
    },
    commit: () => {
      commits.push(transactions);
      return Promise.resolve();
    },
  };
  const steps = { ordered: STEP_NAMES.map((name) => ({ name })) } as unknown as SagaSteps;
  const config = { get: () => ({ leaseMs: 30_000 }) } as unknown as ConfigService<AppConfig, true>;
  const batches = new StepBatches(
    sagas as unknown as SagaRepository,
    tx as unknown as TransactionHost,
    steps,
    testIdentity(),
    config,
  );
  return { batches, sagas, transactions: () => transactions, commits };
}

function request(record: SagaRecord, at: SagaStep, extra: Partial<ForwardRequest> = {}) {
  return {
    saga: record,
    step: at,
    status: 'in_progress' as const,
    startedAt: Date.now(),
    ...extra,
  };
}

describe('StepBatches', () => {
  it('takes sagas at different steps through one transaction, each step once for its sagas', async () => {
    const { batches, sagas, transactions } = setup();
    const first = step('user_validation');
    const second = step('item_grant');

    const results = await Promise.all([
      batches.forward(request(saga('a'), second.object)),
      batches.forward(request(saga('b'), first.object)),
      batches.forward(request(saga('c'), second.object)),
    ]);

    expect(transactions()).toBe(1);
    expect(sagas.options).toEqual([{ locked: true }]);
    // Steps run in saga order (the order their rows are locked in), each with all of its sagas.
    expect(first.batches).toEqual([['b']]);
    expect(second.batches).toEqual([['a', 'c']]);
    expect(sagas.applied).toHaveLength(1);
    expect(
      results.map((r: CommittedStep) => [
        r.after.context.transactionId,
        r.after.version,
        r.after.completed,
      ]),
    ).toEqual([
      ['a', 2, ['item_grant']],
      ['b', 2, ['user_validation']],
      ['c', 2, ['item_grant']],
    ]);
  });

  it('gives each saga its own outcome: a refusal or a failure holds no other saga back', async () => {
    const { batches, sagas } = setup();
    const grant = step('item_grant', (context) => {
      if (context.transactionId === 'refused') {
        return { kind: 'error', error: new DomainError('INSUFFICIENT_STOCK', 'Sold out') };
      }
      if (context.transactionId === 'failed') {
        return { kind: 'error', error: new InfrastructureError('provider down') };
      }
      return { kind: 'value', value: { granted: 1 } };
    });

    const [ok, refused, failed] = await Promise.allSettled([
      batches.forward(request(saga('ok'), grant.object)),
      batches.forward(request(saga('refused'), grant.object)),
      batches.forward(request(saga('failed'), grant.object)),
    ]);

    expect(ok).toMatchObject({ status: 'fulfilled', value: { data: { granted: 1 } } });
    expect(refused).toMatchObject({ status: 'rejected', reason: { code: 'INSUFFICIENT_STOCK' } });
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'provider down' } });
    expect(sagas.applied.flat().map((t) => t.transactionId)).toEqual(['ok']);
  });

  it('refuses a saga another driver moved on, before its effect runs', async () => {
    const { batches, sagas } = setup();
    sagas.versions.set('moved', 5);
    const grant = step('item_grant');

    const [moved, current] = await Promise.allSettled([
      batches.forward(request(saga('moved', 1), grant.object)),
      batches.forward(request(saga('current', 1), grant.object)),
    ]);

    expect(moved).toMatchObject({ status: 'rejected', reason: expect.any(StaleSagaError) });
    expect(current.status).toBe('fulfilled');
    expect(grant.batches).toEqual([['current']]);
  });

  it('lets a saga that comes twice in a batch go once; the second finds it moved on', async () => {
    const { batches, sagas } = setup();
    const validate = step('user_validation');
    const record = saga('twice');

    const [first, second] = await Promise.allSettled([
      batches.forward(request(record, validate.object)),
      batches.forward(request({ ...record }, validate.object)),
    ]);

    expect(first.status).toBe('fulfilled');
    expect(second).toMatchObject({ status: 'rejected', reason: expect.any(StaleSagaError) });
    expect(validate.batches).toEqual([['twice']]);
    expect(sagas.locked).toEqual([['twice'], ['twice']]);
  });

  it('hands a saga the step puts back to the next batch', async () => {
    const { batches, transactions } = setup();
    let deferred = false;
    const validate = step('user_validation', (context) => {
      if (context.transactionId === 'later' && !deferred) {
        deferred = true;
        return { kind: 'requeue' };
      }
      return { kind: 'value', value: {} };
    });

    const results = await Promise.all([
      batches.forward(request(saga('now'), validate.object)),
      batches.forward(request(saga('later'), validate.object)),
    ]);

    expect(results.map((r) => r.after.context.transactionId)).toEqual(['now', 'later']);
    expect(validate.batches).toEqual([['now', 'later'], ['later']]);
    expect(transactions()).toBe(2);
  });

  it('runs the hooks of a batch once per writer, with every transition that committed', async () => {
    const { batches } = setup();
    const written: HookedTransition[][] = [];
    const hook = {
      write: (hooked: readonly HookedTransition[]) => {
        written.push([...hooked]);
        return Promise.resolve();
      },
    };
    const validate = step('user_validation');

    await Promise.all([
      batches.forward(request(saga('a'), validate.object, { hook })),
      batches.forward(request(saga('b'), validate.object, { hook, status: 'completed' })),
    ]);

    expect(written).toHaveLength(1);
    expect(
      written[0].map((h) => [h.transition.saga.context.transactionId, h.transition.status]),
    ).toEqual([
      ['a', 'in_progress'],
      ['b', 'completed'],
    ]);
  });

  it('sends the COMMIT right behind the transitions and hooks, before they are answered', async () => {
    const { batches, sagas, commits } = setup();
    const issued: string[] = [];
    let answer = (): void => undefined;
    sagas.applyTransitions = (transitions) => {
      issued.push('transitions');
      return new Promise((resolve) => {
        answer = () => resolve(transitions.map((t) => t.expectedVersion + 1));
      });
    };
    const hook = {
      write: () => {
        issued.push(`hooks (commits so far: ${commits.length})`);
        return Promise.resolve();
      },
    };

    const done = batches.forward(request(saga('a'), step('user_validation').object, { hook }));
    for (let turn = 0; turn < 50 && commits.length === 0; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
    }

    expect(issued).toEqual(['transitions', 'hooks (commits so far: 0)']);
    expect(commits).toEqual([1]);
    answer();
    expect((await done).after.version).toBe(2);
  });

  it('fails every saga of a batch whose transaction fails, for each to retry', async () => {
    const { batches, sagas } = setup();
    sagas.applyTransitions = () => Promise.reject(new Error('connection reset'));
    const validate = step('user_validation');

    const outcomes = await Promise.allSettled([
      batches.forward(request(saga('a'), validate.object)),
      batches.forward(request(saga('b'), validate.object)),
    ]);

    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });
});
