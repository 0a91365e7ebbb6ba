import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DomainError } from '../../../common/errors/domain-error';
import { isUniqueViolation } from '../../../common/errors/database-errors';
import type { AppConfig, SagaConfig } from '../../../config/configuration';
import { TransactionHost } from '../../../database/transaction-host';
import type { SagaStatus } from './saga-state.entity';
import type { StepKind } from './saga-step-result.entity';
import { SAGA_CHANGED, SAGA_SETTLED, SagaChangedEvent } from './saga-changed.event';
import { isTerminal } from '../read-model/saga.mapper';
import { SagaRepository } from './saga.repository';
import type { SagaError, SagaRecord, StepData, StepName } from './saga';
import type { SagaStep } from './steps/saga-step';
import { SagaSteps } from './steps/saga-steps';
import { FaultInjector } from './fault-injector';
import { InstanceIdentity } from './instance-identity';
import { backoffDelay, sleep } from './retry';
import { StepBatches } from './step-batches';
import {
  committedTransition,
  fencedTransition,
  runHooks,
  StaleSagaError,
  type StepChange,
  type StepRecord,
  type TransitionHook,
} from './transition';
import { errorMessage } from '../../../common/errors/error-message';

export type StepOutcome =
  | { kind: 'done'; data: StepData }
  | { kind: 'refused'; error: SagaError }
  | { kind: 'failed'; error: SagaError };

/** The result row of a step or compensation that did not happen. */
function failedRow(kind: StepKind, step: StepName, error: SagaError) {
  return { kind, step, outcome: 'failed' as const, data: null, durationMs: 0, error };
}

/**
 * Executes one step or one compensation of a saga as one local transaction: the saga row is
 * fenced on its version (and locked), the step's effect runs, its result row is written, and the
 * saga's status moves, all committing or rolling back together. Infrastructure errors are retried
 * with backoff; refusals are not. Both patterns drive sagas only through this class.
 */
@Injectable()
export class StepRunner {
  private readonly logger = new Logger(StepRunner.name);
  private readonly saga: SagaConfig;

  constructor(
    private readonly sagas: SagaRepository,
    private readonly tx: TransactionHost,
    private readonly faults: FaultInjector,
    private readonly steps: SagaSteps,
    private readonly batches: StepBatches,
    private readonly events: EventEmitter2,
    private readonly identity: InstanceIdentity,
    config: ConfigService<AppConfig, true>,
  ) {
    this.saga = config.get('saga', { infer: true });
  }

  /** Runs a forward step; on success the saga moves on (to `completed` after its last step). */
  async forward(
    saga: SagaRecord,
    step: SagaStep,
    isLast: boolean,
    hook?: TransitionHook,
  ): Promise<StepOutcome> {
    const age = Date.now() - saga.startedAt.getTime();
    if (!this.steps.isPastPivot(step.name) && age > this.saga.timeoutMs) {
      // Too late to go on: a saga that outlived SAGA_TIMEOUT_MS before its pivot is undone.
      return {
        kind: 'failed',
        error: {
          step: step.name,
          code: 'SAGA_TIMEOUT',
          message: `The saga ran ${age} ms, beyond SAGA_TIMEOUT_MS (${this.saga.timeoutMs} ms), before its pivot`,
        },
      };
    }
    this.faults.beforeStep(step.name);
    const status: SagaStatus = isLast ? 'completed' : 'in_progress';
    const result = await this.withRetries(saga, async () => {
      await this.faults.inStep(step.name);
      const committed = await this.batches.forward({
        saga,
        step,
        status,
        hook,
        startedAt: Date.now(),
      });
      const previous = saga.status;
      Object.assign(saga, committed.after);
      await this.changed(saga, previous, {
        step: step.name,
        kind: 'forward',
        outcome: 'success',
        durationMs: committed.durationMs,
      });
      return committed.data;
    });
    if (result.kind !== 'done') {
      return result.kind === 'refused'
        ? {
            kind: 'refused',
            error: { step: step.name, code: result.error.code, message: result.error.message },
          }
        : {
            kind: 'failed',
            error: {
              step: step.name,
              code: 'STEP_FAILED',
              message: `Step ${step.name} failed: ${result.message}`,
            },
          };
    }
    this.faults.afterStep(step.name);
    return { kind: 'done', data: result.data };
  }

  /**
   * Records a step's refusal or exhausted retries: the saga ends `failed` when nothing was done
   * yet, else starts `compensating`.
   */
  async recordFailure(
    saga: SagaRecord,
    step: SagaStep,
    error: SagaError,
    hook?: TransitionHook,
  ): Promise<void> {
    const status: SagaStatus = saga.completed.length === 0 ? 'failed' : 'compensating';
    await this.transition(
      saga,
      { status, currentStep: step.name, error },
      () => Promise.resolve(failedRow('forward', step.name, error)),
      hook,
    );
  }

  /** Past the pivot: the step gave up after its retries; the purchase completes regardless. */
  async giveUp(
    saga: SagaRecord,
    step: SagaStep,
    error: SagaError,
    hook?: TransitionHook,
  ): Promise<void> {
    await this.transition(
      saga,
      { status: 'completed', currentStep: step.name },
      async () => {
        const data = (await step.giveUp?.(saga.context, error.message)) ?? null;
        return { kind: 'forward', step: step.name, outcome: 'failed', data, durationMs: 0, error };
      },
      hook,
    );
  }

  /**
   * Undoes one committed step. The saga ends `compensated` after the last undo, or `failed` with
   * COMPENSATION_FAILED when an undo keeps failing (an admin can re-drive it).
   */
  async compensate(
    saga: SagaRecord,
    step: SagaStep,
    isLast: boolean,
    hook?: TransitionHook,
  ): Promise<'done' | 'failed'> {
    const target = `compensation:${step.name}`;
    const compensate = step.compensate?.bind(step);
    if (compensate === undefined) throw new Error(`Step ${step.name} cannot be compensated`);
    this.faults.beforeStep(target);
    const result = await this.withRetries(saga, async () => {
      const started = Date.now();
      return this.transition(
        saga,
        { status: isLast ? 'compensated' : 'compensating', currentStep: step.name },
        async () => {
          await this.faults.inStep(target);
          const data = await compensate(saga.context);
          return {
            kind: 'compensation',
            step: step.name,
            outcome: 'success',
            data,
            durationMs: Date.now() - started,
          };
        },
        hook,
      );
    });
    if (result.kind === 'done') {
      this.faults.afterStep(target);
      return 'done';
    }
    const error: SagaError = {
      step: step.name,
      code: 'COMPENSATION_FAILED',
      message: `Compensation of ${step.name} failed: ${result.kind === 'refused' ? result.error.message : result.message}`,
    };
    await this.transition(
      saga,
      { status: 'failed', currentStep: step.name, error },
      () => Promise.resolve(failedRow('compensation', step.name, error)),
      hook,
    );
    return 'failed';
  }

  /**
   * Takes a saga over to compensate it (admin): `compensating` when something committed, else
   * `failed`. Its previous driver is fenced out.
   */
  async abort(
    saga: SagaRecord,
    error: SagaError,
    within?: (after: SagaRecord) => Promise<void>,
  ): Promise<void> {
    const status: SagaStatus = saga.completed.length === 0 ? 'failed' : 'compensating';
    const id = saga.context.transactionId;
    const after = await this.tx.run(async () => {
      const version = await this.sagas.transition(id, saga.version, {
        status,
        error,
        leaseOwner: this.identity.id,
        leaseMs: this.saga.leaseMs,
      });
      if (version === undefined) throw new StaleSagaError(id);
      const next: SagaRecord = { ...saga, version, status, error };
      await within?.(next);
      return next;
    });
    const previous = saga.status;
    Object.assign(saga, after);
    await this.changed(saga, previous, null);
  }

  /**
   * Tells in-process observers (cache, metrics) what committed. A saga still under way goes on
   * without waiting for them: its next change raises the cache's version floor again. The change
   * that ends it is awaited, and only then are the requests waiting for it woken (SAGA_SETTLED),
   * so nobody is answered before the cache knows its outcome.
   */
  private async changed(
    saga: SagaRecord,
    previousStatus: SagaStatus,
    cause: {
      step: StepName;
      kind: StepKind;
      outcome: 'success' | 'failed';
      durationMs: number;
    } | null,
  ): Promise<void> {
    const event: SagaChangedEvent = {
      transactionId: saga.context.transactionId,
      pattern: saga.context.pattern,
      previousStatus,
      status: saga.status,
      version: saga.version,
      step: cause?.step ?? null,
      kind: cause?.kind ?? null,
      outcome: cause?.outcome ?? null,
      durationMs: cause?.durationMs ?? null,
      sagaAgeMs: isTerminal(saga.status) ? Date.now() - saga.startedAt.getTime() : null,
      at: new Date(),
    };
    const observed = this.events.emitAsync(SAGA_CHANGED, event);
    if (isTerminal(saga.status)) {
      await observed;
      this.events.emit(SAGA_SETTLED, event);
      return;
    }
    observed.catch((error: unknown) =>
      this.logger.error(`An observer of saga ${event.transactionId} failed: ${String(error)}`),
    );
  }

  /** One transaction: do the work, fence the saga and write the result row, run the hook. */
  private async transition(
    saga: SagaRecord,
    change: StepChange,
    work: () => Promise<StepRecord>,
    hook?: TransitionHook,
  ): Promise<StepData | null> {
    const id = saga.context.transactionId;
    const { after, done } = await this.tx.run(async () => {
      // The effect first, then the fence: the saga row stays locked only for the end of the
      // transaction, and a driver that lost the saga rolls its effect back.
      const done = await work();
      let version: number | undefined;
      try {
        [version] = await this.sagas.applyTransitions([
          fencedTransition(saga, change, done, { owner: this.identity.id, ms: this.saga.leaseMs }),
        ]);
      } catch (error) {
        // The step already succeeded once: another driver got here first.
        if (isUniqueViolation(error, 'uq_saga_step_results_success')) throw new StaleSagaError(id);
        throw error;
      }
      if (version === undefined) throw new StaleSagaError(id);
      const transition = committedTransition(saga, version, change, done);
      if (hook !== undefined) await runHooks([{ transition, hook }]);
      return { after: transition.saga, done };
    });
    const previous = saga.status;
    Object.assign(saga, after);
    await this.changed(saga, previous, done);
    return done.data;
  }

  /** Retries infrastructure errors with backoff; refusals and lost fencing are not retried. */
  private async withRetries(
    saga: SagaRecord,
    attempt: () => Promise<StepData | null>,
  ): Promise<
    | { kind: 'done'; data: StepData }
    | { kind: 'refused'; error: DomainError }
    | { kind: 'failed'; message: string }
  > {
    for (let n = 1; ; n++) {
      try {
        return { kind: 'done', data: (await attempt()) ?? {} };
      } catch (error) {
        if (error instanceof StaleSagaError) throw error;
        if (error instanceof DomainError) return { kind: 'refused', error };
        if (n >= this.saga.stepMaxAttempts) return { kind: 'failed', message: errorMessage(error) };
        await sleep(backoffDelay(n, this.saga.stepRetryBaseMs, this.saga.stepRetryMaxMs));
      }
    }
  }
}
