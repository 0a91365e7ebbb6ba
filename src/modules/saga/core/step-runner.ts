import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { Span } from '@opentelemetry/api';
import { errorMessage } from '../../../common/errors/error-message';
import type { AppConfig, SagaConfig } from '../../../config/configuration';
import { FaultInjector } from './fault-injector';
import { backoffDelay, sleep } from './retry';
import {
  COMPENSATION_FAILED,
  isTerminal,
  remainingToCompensate,
  statusAfterFailure,
  type SagaError,
  type SagaRecord,
  type SagaStatus,
} from './saga';
import {
  SAGA_CHANGED,
  SAGA_SETTLED,
  sagaChanged,
  type SagaChangeCause,
} from './saga-changed.event';
import { SagaStore, type ForwardOutcome, type TransitionOutcome } from './saga-store';
import { inStepSpan, markAttempt, markOutcome, type StepOutcome } from './step-span';
import type { SagaStep } from './steps/saga-step';
import { SagaSteps } from './steps/saga-steps';
import type { AfterCommit, Raise, StepChange, StepRecord } from './transition';

/**
 * What driving a saga one move gave: the saga as it now stands and what its pattern does once
 * that committed; or `stale` when another driver had moved it first (this one lets it be).
 */
export type Move =
  { kind: 'moved'; saga: SagaRecord; afterCommit: AfterCommit } | { kind: 'stale' };

/** An attempt's outcome, for the retry loop: `failed` is retried, the rest is final. */
type Attempt = ForwardOutcome | TransitionOutcome;

/**
 * Drives a saga one move at a time, the same way for both patterns: the next forward step, or
 * the next undo. It decides what a refusal or a failure means for the saga (compensate before
 * the pivot, give up after it), retries infrastructure errors with backoff, enforces
 * SAGA_TIMEOUT_MS, hits the injected faults, and tells observers what committed. The store does
 * the transactions.
 */
@Injectable()
export class StepRunner {
  private readonly logger = new Logger(StepRunner.name);
  private readonly saga: SagaConfig;

  constructor(
    private readonly store: SagaStore,
    private readonly steps: SagaSteps,
    private readonly faults: FaultInjector,
    private readonly events: EventEmitter2,
    config: ConfigService<AppConfig, true>,
  ) {
    this.saga = config.get('saga', { infer: true });
  }

  /**
   * Runs `step` forward. Done: the saga moves on (to `completed` after the last step). Refused,
   * or failing after its retries: before the pivot the saga ends `failed` if nothing committed
   * yet, else starts compensating; past the pivot the step gives up and the purchase completes.
   * Traced as one span for all its attempts.
   */
  advance(saga: SagaRecord, step: SagaStep, raise?: Raise): Promise<Move> {
    return inStepSpan(saga, 'step', step.name, (span) => this.advanceIn(saga, step, raise, span));
  }

  private async advanceIn(
    saga: SagaRecord,
    step: SagaStep,
    raise: Raise | undefined,
    span: Span,
  ): Promise<Move> {
    const pastPivot = this.steps.isPastPivot(step.name);
    const age = Date.now() - saga.startedAt.getTime();
    if (!pastPivot && age > this.saga.timeoutMs) {
      // Too late to go on: a saga that outlived SAGA_TIMEOUT_MS before its pivot is undone.
      const move = await this.fail(saga, step, raise, {
        step: step.name,
        code: 'SAGA_TIMEOUT',
        message: `The saga ran ${age} ms, beyond SAGA_TIMEOUT_MS (${this.saga.timeoutMs} ms), before its pivot`,
      });
      return traced(span, move, 'failed', 'SAGA_TIMEOUT');
    }
    this.faults.beforeStep(step.name);
    const status: SagaStatus = this.steps.isLast(step.name) ? 'completed' : 'in_progress';
    const outcome = await this.withRetries(span, async (): Promise<ForwardOutcome> => {
      try {
        await this.faults.inStep(step.name);
      } catch (error) {
        return { kind: 'failed', error };
      }
      return await this.store.forward(saga, step, status, raise, span);
    });
    switch (outcome.kind) {
      case 'stale':
        markOutcome(span, 'stale');
        return outcome;
      case 'done':
        markOutcome(span, 'done');
        await this.changed(outcome.saga, saga.status, {
          step: step.name,
          kind: 'forward',
          outcome: 'success',
          durationMs: outcome.durationMs,
        });
        this.faults.afterStep(step.name);
        return { kind: 'moved', saga: outcome.saga, afterCommit: outcome.afterCommit };
      case 'refused': {
        const move = await this.fail(saga, step, raise, {
          step: step.name,
          code: outcome.error.code,
          message: outcome.error.message,
        });
        return traced(span, move, 'refused', outcome.error.code);
      }
      case 'failed': {
        const move = await this.fail(saga, step, raise, {
          step: step.name,
          code: 'STEP_FAILED',
          message: `Step ${step.name} failed: ${errorMessage(outcome.error)}`,
        });
        return traced(span, move, 'failed', 'STEP_FAILED');
      }
    }
  }

  /**
   * Undoes `step`, the newest committed step not yet undone. The saga ends `compensated` after
   * the last undo, or `failed` with COMPENSATION_FAILED when an undo keeps failing (an admin can
   * re-drive it). Traced as one span for all its attempts.
   */
  undo(saga: SagaRecord, step: SagaStep, raise?: Raise): Promise<Move> {
    return inStepSpan(saga, 'compensation', step.name, (span) =>
      this.undoIn(saga, step, raise, span),
    );
  }

  private async undoIn(
    saga: SagaRecord,
    step: SagaStep,
    raise: Raise | undefined,
    span: Span,
  ): Promise<Move> {
    const compensate = step.compensate?.bind(step);
    if (compensate === undefined) throw new Error(`Step ${step.name} cannot be compensated`);
    const target = `compensation:${step.name}`;
    const isLast = remainingToCompensate(saga).length === 1;
    this.faults.beforeStep(target);
    const outcome = await this.withRetries(span, () => {
      const started = Date.now();
      return this.store.record(
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
        raise,
      );
    });
    if (outcome.kind === 'done') {
      markOutcome(span, 'done');
      this.faults.afterStep(target);
      return this.committed(saga, outcome);
    }
    if (outcome.kind === 'stale') {
      markOutcome(span, 'stale');
      return outcome;
    }
    const reason = outcome.kind === 'refused' ? outcome.error.message : errorMessage(outcome.error);
    const error: SagaError = {
      step: step.name,
      code: COMPENSATION_FAILED,
      message: `Compensation of ${step.name} failed: ${reason}`,
    };
    const move = await this.recordOnly(
      saga,
      { status: 'failed', currentStep: step.name, error },
      raise,
      {
        kind: 'compensation',
        step: step.name,
        outcome: 'failed',
        data: null,
        durationMs: 0,
        error,
      },
    );
    return traced(span, move, 'failed', COMPENSATION_FAILED);
  }

  /**
   * Takes a saga over to compensate it (admin): `compensating` when something committed, else
   * `failed`. Its previous driver is fenced out; `raise` writes what the take-over starts.
   */
  async takeOver(
    saga: SagaRecord,
    error: SagaError,
    raise?: (after: SagaRecord) => Promise<AfterCommit>,
  ): Promise<Move> {
    const outcome = await this.store.takeOver(saga, statusAfterFailure(saga), error, raise);
    if (outcome.kind === 'stale') return outcome;
    await this.changed(outcome.saga, saga.status, null);
    return { kind: 'moved', saga: outcome.saga, afterCommit: outcome.afterCommit };
  }

  /** A forward step that will not happen: the saga fails, compensates, or completes past the pivot. */
  private async fail(
    saga: SagaRecord,
    step: SagaStep,
    raise: Raise | undefined,
    error: SagaError,
  ): Promise<Move> {
    if (!this.steps.isPastPivot(step.name)) {
      return this.recordOnly(
        saga,
        { status: statusAfterFailure(saga), currentStep: step.name, error },
        raise,
        { kind: 'forward', step: step.name, outcome: 'failed', data: null, durationMs: 0, error },
      );
    }
    // Past the pivot: the step gave up after its retries; the purchase completes regardless.
    const outcome = await this.store.record(
      saga,
      { status: 'completed', currentStep: step.name },
      async () => ({
        kind: 'forward',
        step: step.name,
        outcome: 'failed',
        data: (await step.giveUp?.(saga.context, error.message)) ?? null,
        durationMs: 0,
        error,
      }),
      raise,
    );
    return this.final(saga, outcome);
  }

  /** A transition with a result row and no effect. */
  private async recordOnly(
    saga: SagaRecord,
    change: StepChange,
    raise: Raise | undefined,
    record: StepRecord,
  ): Promise<Move> {
    return this.final(
      saga,
      await this.store.record(saga, change, () => Promise.resolve(record), raise),
    );
  }

  /** A transition that had to commit: a refusal or failure there is an error of the service. */
  private final(saga: SagaRecord, outcome: TransitionOutcome): Promise<Move> | Move {
    switch (outcome.kind) {
      case 'done':
        return this.committed(saga, outcome);
      case 'stale':
        return outcome;
      case 'refused':
      case 'failed':
        throw outcome.error;
    }
  }

  private async committed(
    before: SagaRecord,
    outcome: Extract<TransitionOutcome, { kind: 'done' }>,
  ): Promise<Move> {
    const { record } = outcome;
    await this.changed(outcome.saga, before.status, {
      step: record.step,
      kind: record.kind,
      outcome: record.outcome,
      durationMs: record.durationMs,
    });
    return { kind: 'moved', saga: outcome.saga, afterCommit: outcome.afterCommit };
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
    cause: SagaChangeCause | null,
  ): Promise<void> {
    const event = sagaChanged(saga, previousStatus, cause);
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

  /** Retries failed attempts with backoff; the other outcomes are final. */
  private async withRetries<T extends Attempt>(span: Span, attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      const outcome = await attempt();
      markAttempt(span, n, outcome.kind === 'failed' ? outcome.error : undefined);
      if (outcome.kind !== 'failed' || n >= this.saga.stepMaxAttempts) return outcome;
      await sleep(backoffDelay(n, this.saga.stepRetryBaseMs, this.saga.stepRetryMaxMs));
    }
  }
}

/** A step's span says how it ended: `outcome`, unless its saga turned out to have moved on. */
function traced(span: Span, move: Move, outcome: StepOutcome, errorCode: string): Move {
  if (move.kind === 'stale') markOutcome(span, 'stale');
  else markOutcome(span, outcome, errorCode);
  return move;
}
