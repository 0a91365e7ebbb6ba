import type { ConfigService } from '@nestjs/config';
import type { EventEmitter2 } from '@nestjs/event-emitter';
import { DomainError, InfrastructureError } from '../../../common/errors/domain-error';
import type { AppConfig, SagaConfig } from '../../../config/configuration';
import type { TransactionHost } from '../../../database/transaction-host';
import { SAGA_SETTLED, type SagaChangedEvent } from './saga-changed.event';
import type { SagaRepository } from './saga.repository';
import { STEP_NAMES, type SagaRecord, type StepData, type StepName } from './saga';
import type { SagaStep, StepAttempt } from './steps/saga-step';
import type { SagaSteps } from './steps/saga-steps';
import type { FaultInjector } from './fault-injector';
import { testIdentity } from './instance-identity.fixture';
import { StepBatches } from './step-batches';
import { StepRunner } from './step-runner';
import { StaleSagaError, type Transition } from './transition';

const sagaConfig: SagaConfig = {
  defaultPattern: 'orchestration',
  purchaseWaitMs: 1000,
  timeoutMs: 60_000,
  stepMaxAttempts: 3,
  stepRetryBaseMs: 0,
  stepRetryMaxMs: 0,
  leaseMs: 30_000,
  recoveryPollMs: 1000,
  outboxLeaseMs: 1000,
  outboxPollMs: 1000,
  faults: '',
};

/** Some drivers reject with plain strings rather than Errors. */
function plainReason(reason: string): Error {
  return reason as unknown as Error;
}

function sagaRecord(overrides: Partial<SagaRecord> = {}): SagaRecord {
  return {
    context: {
      transactionId: 'tx-1',
      pattern: 'orchestration',
      userId: 'user-1',
      itemId: 'item-1',
      quantity: 1,
      total: '10.00',
    },
    status: 'in_progress',
    version: 1,
    startedAt: new Date(),
    completed: [],
    compensated: [],
    error: null,
    ...overrides,
  };
}

/** A step whose effect, for each saga of a batch, is what `execute` answers. */
function step(
  name: StepName,
  execute: () => Promise<StepData>,
  extra: Partial<Pick<SagaStep, 'compensate' | 'giveUp'>> = {},
): SagaStep {
  return {
    name,
    execute: (contexts) =>
      Promise.all(
        contexts.map(() =>
          execute().then(
            (value): StepAttempt => ({ kind: 'value', value }),
            (error: unknown): StepAttempt => ({ kind: 'error', error }),
          ),
        ),
      ),
    ...extra,
  };
}

interface ResultRow {
  step: string;
  kind: string;
  status: string;
  data: StepData | null;
  errorCode: string | null;
  errorMessage: string | null;
}

/** A saga repository that keeps one saga's version and result rows in memory. */
class FakeSagas {
  version = 1;
  rows: ResultRow[] = [];
  statuses: string[] = [];
  failNextWith: Error | null = null;

  lockAtVersions(sagas: { transactionId: string; version: number }[]): Promise<Set<string>> {
    return Promise.resolve(
      new Set(sagas.filter((s) => s.version === this.version).map((s) => s.transactionId)),
    );
  }

  transition(_id: string, expected: number, change: { status: string }) {
    if (expected !== this.version) return Promise.resolve(undefined);
    this.version += 1;
    this.statuses.push(change.status);
    return Promise.resolve(this.version);
  }

  applyTransitions(
    transitions: { expectedVersion: number; change: { status: string }; result?: ResultRow }[],
  ): Promise<(number | undefined)[]> {
    if (this.failNextWith !== null) {
      const error = this.failNextWith;
      this.failNextWith = null;
      return Promise.reject(error);
    }
    return Promise.resolve(
      transitions.map(({ expectedVersion, change, result }) => {
        if (expectedVersion !== this.version) return undefined;
        this.version += 1;
        if (result !== undefined) this.rows.push(result);
        this.statuses.push(change.status);
        return this.version;
      }),
    );
  }
}

function setup(
  pastPivot: StepName[] = [],
  config: Partial<SagaConfig> = {},
  observe: (event: SagaChangedEvent) => Promise<unknown[]> = () => Promise.resolve([]),
) {
  const sagas = new FakeSagas();
  const events: SagaChangedEvent[] = [];
  const settled: SagaChangedEvent[] = [];
  const emitter = {
    emitAsync: (_name: string, event: SagaChangedEvent) => {
      events.push(event);
      return observe(event);
    },
    emit: (name: string, event: SagaChangedEvent) => {
      if (name === SAGA_SETTLED) settled.push(event);
      return true;
    },
  };
  const faults = {
    beforeStep: () => undefined,
    inStep: () => Promise.resolve(),
    afterStep: () => undefined,
  };
  const tx = { run: <T>(work: () => Promise<T>) => work(), commit: () => Promise.resolve() };
  const steps = { isPastPivot: (name: StepName) => pastPivot.includes(name) };
  const configService = { get: () => ({ ...sagaConfig, ...config }) };
  const identity = testIdentity();
  const batches = new StepBatches(
    sagas as unknown as SagaRepository,
    tx as unknown as TransactionHost,
    { ordered: STEP_NAMES.map((name) => ({ name })) } as unknown as SagaSteps,
    identity,
    configService as unknown as ConfigService<AppConfig, true>,
  );
  const runner = new StepRunner(
    sagas as unknown as SagaRepository,
    tx as unknown as TransactionHost,
    faults as unknown as FaultInjector,
    steps as unknown as SagaSteps,
    batches,
    emitter as unknown as EventEmitter2,
    identity,
    configService as unknown as ConfigService<AppConfig, true>,
  );
  return { runner, sagas, events, settled };
}

describe('StepRunner', () => {
  describe('forward', () => {
    it('commits a step, records its result and moves the saga on', async () => {
      const { runner, sagas, events } = setup();
      const saga = sagaRecord();
      const transitions: Transition[] = [];

      const outcome = await runner.forward(
        saga,
        step('user_validation', () => Promise.resolve({ balance: 90 })),
        false,
        {
          write: (hooked) => {
            transitions.push(...hooked.map((item) => item.transition));
            return Promise.resolve();
          },
        },
      );

      expect(outcome).toEqual({ kind: 'done', data: { balance: 90 } });
      expect(saga).toMatchObject({
        version: 2,
        status: 'in_progress',
        completed: ['user_validation'],
      });
      expect(sagas.rows).toEqual([
        expect.objectContaining({ step: 'user_validation', kind: 'forward', status: 'success' }),
      ]);
      expect(transitions[0]).toMatchObject({ step: 'user_validation', outcome: 'success' });
      expect(events[0]).toMatchObject({
        previousStatus: 'in_progress',
        status: 'in_progress',
        step: 'user_validation',
        sagaAgeMs: null,
      });
    });

    it('completes the saga after its last step and reports its age', async () => {
      const { runner, events } = setup();
      const saga = sagaRecord({ completed: ['user_validation', 'item_grant', 'log_record'] });

      await runner.forward(
        saga,
        step('notification', () => Promise.resolve({})),
        true,
      );

      expect(saga.status).toBe('completed');
      expect(events[0].status).toBe('completed');
      expect(events[0].sagaAgeMs).toEqual(expect.any(Number));
    });

    it('goes on without waiting for the observers of a saga under way, but not past its end', async () => {
      const held: { status: string; release: () => void }[] = [];
      const { runner, settled } = setup([], {}, (event) => {
        // An observer that fails for a saga under way is logged; the saga goes on regardless.
        if (event.step === 'item_grant') return Promise.reject(new Error('observer failed'));
        return new Promise((resolve) =>
          held.push({ status: event.status, release: () => resolve([]) }),
        );
      });
      const saga = sagaRecord();

      const first = await runner.forward(
        saga,
        step('user_validation', () => Promise.resolve({})),
        false,
      );
      expect(first.kind).toBe('done');
      await runner.forward(
        saga,
        step('item_grant', () => Promise.resolve({})),
        false,
      );
      await runner.forward(
        saga,
        step('log_record', () => Promise.resolve({})),
        false,
      );
      expect(held.map((observer) => observer.status)).toEqual(['in_progress', 'in_progress']);

      let ended = false;
      const last = runner
        .forward(
          saga,
          step('notification', () => Promise.resolve({})),
          true,
        )
        .then(() => (ended = true));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(saga.status).toBe('completed');
      expect(ended).toBe(false);
      // Those waiting for the outcome are woken only once its observers have run.
      expect(settled).toEqual([]);
      held.find((observer) => observer.status === 'completed')?.release();
      await last;
      expect(ended).toBe(true);
      expect(settled.map((event) => event.status)).toEqual(['completed']);
    });

    it('fails a saga that outlived its timeout before the pivot, without running the step', async () => {
      const { runner, sagas } = setup([], { timeoutMs: 1000 });
      const execute = jest.fn(() => Promise.resolve({}));
      const saga = sagaRecord({ startedAt: new Date(Date.now() - 5000) });

      const outcome = await runner.forward(saga, step('item_grant', execute), false);

      expect(outcome).toMatchObject({
        kind: 'failed',
        error: { step: 'item_grant', code: 'SAGA_TIMEOUT' },
      });
      expect(execute).not.toHaveBeenCalled();
      expect(sagas.rows).toEqual([]);
    });

    it('goes on past the pivot however old the saga is', async () => {
      const { runner } = setup(['notification'], { timeoutMs: 1000 });
      const saga = sagaRecord({ startedAt: new Date(Date.now() - 5000) });

      const outcome = await runner.forward(
        saga,
        step('notification', () => Promise.resolve({ sent: true })),
        true,
      );

      expect(outcome).toEqual({ kind: 'done', data: { sent: true } });
    });

    it('returns a refusal without retrying it', async () => {
      const { runner, sagas } = setup();
      const execute = jest.fn(() =>
        Promise.reject(new DomainError('INSUFFICIENT_BALANCE', 'Not enough money')),
      );

      const outcome = await runner.forward(sagaRecord(), step('user_validation', execute), false);

      expect(outcome).toEqual({
        kind: 'refused',
        error: {
          step: 'user_validation',
          code: 'INSUFFICIENT_BALANCE',
          message: 'Not enough money',
        },
      });
      expect(execute).toHaveBeenCalledTimes(1);
      expect(sagas.rows).toEqual([]);
    });

    it('retries infrastructure errors and succeeds when one attempt goes through', async () => {
      const { runner } = setup();
      const execute = jest
        .fn<Promise<StepData>, []>()
        .mockRejectedValueOnce(new InfrastructureError('connection reset'))
        .mockResolvedValueOnce({ granted: 1 });

      const outcome = await runner.forward(sagaRecord(), step('item_grant', execute), false);

      expect(outcome).toEqual({ kind: 'done', data: { granted: 1 } });
      expect(execute).toHaveBeenCalledTimes(2);
    });

    it('fails the step once its attempts are exhausted', async () => {
      const { runner, sagas } = setup();
      const execute = jest.fn(() => Promise.reject(plainReason('socket hang up')));

      const outcome = await runner.forward(sagaRecord(), step('item_grant', execute), false);

      expect(outcome).toEqual({
        kind: 'failed',
        error: {
          step: 'item_grant',
          code: 'STEP_FAILED',
          message: 'Step item_grant failed: socket hang up',
        },
      });
      expect(execute).toHaveBeenCalledTimes(sagaConfig.stepMaxAttempts);
      expect(sagas.rows).toEqual([]);
    });

    it('treats a step without data as an empty result', async () => {
      const { runner } = setup();
      const outcome = await runner.forward(
        sagaRecord(),
        step('log_record', () => Promise.resolve(undefined as unknown as StepData)),
        false,
      );
      expect(outcome).toEqual({ kind: 'done', data: {} });
    });

    it('stops at once when another driver advanced the saga', async () => {
      const { runner, sagas, events } = setup();
      sagas.version = 7;
      const execute = jest.fn(() => Promise.resolve({}));

      await expect(
        runner.forward(sagaRecord({ version: 1 }), step('item_grant', execute), false),
      ).rejects.toThrow(StaleSagaError);
      // The fence comes first in a batch: the effect never ran.
      expect(execute).not.toHaveBeenCalled();
      expect(events).toEqual([]);
    });

    it('treats a second success row for the step as a lost race', async () => {
      const { runner, sagas } = setup();
      sagas.failNextWith = Object.assign(new Error('duplicate key'), {
        code: '23505',
        constraint: 'uq_saga_step_results_success',
      });

      const attempt = runner.giveUp(
        sagaRecord({ completed: ['user_validation', 'item_grant', 'log_record'] }),
        step('notification', () => Promise.resolve({})),
        { step: 'notification', code: 'STEP_FAILED', message: 'mail server down' },
      );

      await expect(attempt).rejects.toThrow('Saga tx-1 was advanced by another driver');
    });

    it('retries other database errors raised while fencing', async () => {
      const { runner, sagas } = setup();
      sagas.failNextWith = Object.assign(new Error('duplicate key'), {
        code: '23505',
        constraint: 'some_other_constraint',
      });

      const outcome = await runner.forward(
        sagaRecord(),
        step('item_grant', () => Promise.resolve({ granted: 1 })),
        false,
      );

      expect(outcome).toEqual({ kind: 'done', data: { granted: 1 } });
      expect(sagas.rows).toHaveLength(1);
    });
  });

  describe('recordFailure', () => {
    it('fails a saga that had not committed anything', async () => {
      const { runner, sagas } = setup();
      const saga = sagaRecord();
      const error = { step: 'user_validation', code: 'USER_NOT_FOUND', message: 'No such user' };

      await runner.recordFailure(
        saga,
        step('user_validation', () => Promise.resolve({})),
        error,
      );

      expect(saga).toMatchObject({ status: 'failed', error });
      expect(sagas.rows).toEqual([
        expect.objectContaining({
          step: 'user_validation',
          status: 'failed',
          errorCode: 'USER_NOT_FOUND',
          errorMessage: 'No such user',
        }),
      ]);
    });

    it('starts compensating a saga that had committed steps', async () => {
      const { runner } = setup();
      const saga = sagaRecord({ completed: ['user_validation'] });
      const error = { step: 'item_grant', code: 'OUT_OF_STOCK', message: 'Sold out' };

      await runner.recordFailure(
        saga,
        step('item_grant', () => Promise.resolve({})),
        error,
      );

      expect(saga.status).toBe('compensating');
      expect(saga.completed).toEqual(['user_validation']);
    });
  });

  describe('giveUp', () => {
    const error = { step: 'notification', code: 'STEP_FAILED', message: 'mail server down' };

    it('completes the saga and records what the step says about giving up', async () => {
      const { runner, sagas } = setup();
      const saga = sagaRecord({ completed: ['user_validation', 'item_grant', 'log_record'] });
      const giveUp = jest.fn(() => Promise.resolve({ queued: false }));

      await runner.giveUp(
        saga,
        step('notification', () => Promise.resolve({}), { giveUp }),
        error,
      );

      expect(giveUp).toHaveBeenCalledWith(saga.context, 'mail server down');
      expect(saga.status).toBe('completed');
      expect(saga.completed).not.toContain('notification');
      expect(sagas.rows).toEqual([
        expect.objectContaining({
          step: 'notification',
          status: 'failed',
          data: { queued: false },
        }),
      ]);
    });

    it('records no data for a step that has nothing to say', async () => {
      const { runner, sagas } = setup();

      await runner.giveUp(
        sagaRecord(),
        step('notification', () => Promise.resolve({})),
        error,
      );

      expect(sagas.rows[0].data).toBeNull();
    });
  });

  describe('compensate', () => {
    it('undoes a step and ends the saga compensated after the last undo', async () => {
      const { runner, sagas } = setup();
      const saga = sagaRecord({ status: 'compensating', completed: ['user_validation'] });
      const compensate = jest.fn(() => Promise.resolve({ refunded: '10.00' }));

      const result = await runner.compensate(
        saga,
        step('user_validation', () => Promise.resolve({}), { compensate }),
        true,
      );

      expect(result).toBe('done');
      expect(saga).toMatchObject({ status: 'compensated', compensated: ['user_validation'] });
      expect(sagas.rows).toEqual([
        expect.objectContaining({ kind: 'compensation', status: 'success' }),
      ]);
    });

    it('keeps compensating while undos remain', async () => {
      const { runner } = setup();
      const saga = sagaRecord({
        status: 'compensating',
        completed: ['user_validation', 'item_grant'],
      });

      await runner.compensate(
        saga,
        step('item_grant', () => Promise.resolve({}), { compensate: () => Promise.resolve({}) }),
        false,
      );

      expect(saga.status).toBe('compensating');
    });

    it('refuses to compensate a step that cannot be undone', async () => {
      const { runner } = setup();
      await expect(
        runner.compensate(
          sagaRecord(),
          step('notification', () => Promise.resolve({})),
          true,
        ),
      ).rejects.toThrow('Step notification cannot be compensated');
    });

    it('fails the saga with COMPENSATION_FAILED when the undo keeps failing', async () => {
      const { runner, sagas } = setup();
      const saga = sagaRecord({ status: 'compensating', completed: ['user_validation'] });
      const compensate = jest.fn(() => Promise.reject(new Error('connection refused')));

      const result = await runner.compensate(
        saga,
        step('user_validation', () => Promise.resolve({}), { compensate }),
        true,
      );

      expect(result).toBe('failed');
      expect(compensate).toHaveBeenCalledTimes(sagaConfig.stepMaxAttempts);
      expect(saga).toMatchObject({
        status: 'failed',
        error: {
          code: 'COMPENSATION_FAILED',
          message: 'Compensation of user_validation failed: connection refused',
        },
      });
      expect(sagas.rows).toEqual([
        expect.objectContaining({ kind: 'compensation', status: 'failed' }),
      ]);
    });

    it('fails the saga when the undo is refused', async () => {
      const { runner } = setup();
      const saga = sagaRecord({ status: 'compensating', completed: ['item_grant'] });
      const compensate = () => Promise.reject(new DomainError('ITEM_NOT_FOUND', 'Item is gone'));

      const result = await runner.compensate(
        saga,
        step('item_grant', () => Promise.resolve({}), { compensate }),
        true,
      );

      expect(result).toBe('failed');
      expect(saga.error?.message).toBe('Compensation of item_grant failed: Item is gone');
    });
  });

  describe('abort', () => {
    const error = { step: null, code: 'ABORTED', message: 'Aborted by an admin' };

    it('fails a saga with nothing to undo', async () => {
      const { runner, events } = setup();
      const saga = sagaRecord();

      await runner.abort(saga, error);

      expect(saga).toMatchObject({ status: 'failed', version: 2, error });
      expect(events[0]).toMatchObject({
        previousStatus: 'in_progress',
        status: 'failed',
        step: null,
        kind: null,
        outcome: null,
        durationMs: null,
      });
    });

    it('starts compensating a saga with committed steps, inside the same transaction', async () => {
      const { runner } = setup();
      const saga = sagaRecord({ completed: ['user_validation'] });
      const within = jest.fn(() => Promise.resolve());

      await runner.abort(saga, error, within);

      expect(saga.status).toBe('compensating');
      expect(within).toHaveBeenCalledWith(expect.objectContaining({ status: 'compensating' }));
    });

    it('refuses to take over a saga another driver advanced', async () => {
      const { runner, sagas, events } = setup();
      sagas.version = 3;
      const saga = sagaRecord({ version: 2 });

      await expect(runner.abort(saga, error)).rejects.toThrow(StaleSagaError);
      expect(saga.status).toBe('in_progress');
      expect(events).toEqual([]);
    });
  });
});
