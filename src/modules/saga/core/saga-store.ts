import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Span } from '@opentelemetry/api';
import { traceParentFor } from '../../../common/tracing/tracer';
import { DomainError } from '../../../common/errors/domain-error';
import { isUniqueViolation } from '../../../common/errors/database-errors';
import type { AppConfig } from '../../../config/configuration';
import { TransactionHost } from '../../../database/transaction-host';
import { InstanceIdentity } from './instance-identity';
import { sagaRecord, type SagaError, type SagaRecord, type SagaStatus } from './saga';
import { SagaRepository } from './saga.repository';
import { StepBatches, type ForwardOutcome } from './step-batches';
import type { SagaStep } from './steps/saga-step';
import { SagaSteps } from './steps/saga-steps';
import {
  committedTransition,
  fencedTransition,
  NOTHING_AFTER_COMMIT,
  writeRaised,
  type AfterCommit,
  type Lease,
  type Raise,
  type StepChange,
  type StepRecord,
} from './transition';

export type { ForwardOutcome } from './step-batches';

/** How a transition of one saga went: as data, whatever happened. */
export type TransitionOutcome =
  | { kind: 'done'; saga: SagaRecord; record: StepRecord; afterCommit: AfterCommit }
  | { kind: 'refused'; error: DomainError }
  | { kind: 'failed'; error: unknown }
  | { kind: 'stale' };

/** Rolls a transaction back when the saga turned out to have moved on; never leaves the store. */
class MovedOn extends Error {}

/**
 * Where a saga's steps commit. Each call is one local transaction (or a share of one): the saga
 * row is fenced on its version, the step's effect runs, its result row is written and the saga
 * moves on, all committing or none. Answers what happened as data: done (with the saga as it now
 * stands), refused, failed, or stale when another driver moved the saga first.
 */
@Injectable()
export class SagaStore {
  private readonly batches: StepBatches;
  private readonly leaseMs: number;

  constructor(
    private readonly sagas: SagaRepository,
    private readonly tx: TransactionHost,
    private readonly identity: InstanceIdentity,
    steps: SagaSteps,
    config: ConfigService<AppConfig, true>,
  ) {
    this.leaseMs = config.get('saga', { infer: true }).leaseMs;
    this.batches = new StepBatches(sagas, tx, steps, () => this.lease());
  }

  /**
   * A forward step's effect and the saga's move to `status`. Concurrent sagas share its
   * transaction (group commit), each with its own outcome; `span`, the step's, links to the
   * batch's.
   */
  forward(
    saga: SagaRecord,
    step: SagaStep,
    status: SagaStatus,
    raise?: Raise,
    span?: Span,
  ): Promise<ForwardOutcome> {
    return this.batches
      .forward({ saga, step, status, raise, startedAt: Date.now(), span })
      .catch((error: unknown): ForwardOutcome => ({ kind: 'failed', error }));
  }

  /** One transaction: `work`'s effect and record, the saga's change, and what it raises. */
  async record(
    saga: SagaRecord,
    change: StepChange,
    work: () => Promise<StepRecord>,
    raise?: Raise,
  ): Promise<TransitionOutcome> {
    try {
      return await this.tx.run(async () => {
        // The effect first, then the fence: the saga row stays locked only for the end of the
        // transaction, and a driver that lost the saga rolls its effect back.
        const record = await work();
        const version = await this.applyOne(saga, change, record);
        const transition = committedTransition(saga, version, change, record);
        // What it raises continues the trace of the step (active here) or the saga's.
        const traceParent = traceParentFor(saga.context.traceParent);
        const [afterCommit] = await writeRaised([{ transition, raise, traceParent }]);
        return { kind: 'done', saga: transition.saga, record, afterCommit } as const;
      });
    } catch (error) {
      if (error instanceof MovedOn) return { kind: 'stale' };
      if (error instanceof DomainError) return { kind: 'refused', error };
      return { kind: 'failed', error };
    }
  }

  /**
   * Takes a saga over from whoever drives it (admin): its status moves to `status` with `error`,
   * fencing its previous driver out; `raise` writes, in the same transaction, what the take-over
   * starts.
   */
  async takeOver(
    saga: SagaRecord,
    status: SagaStatus,
    error: SagaError,
    raise?: (after: SagaRecord) => Promise<AfterCommit>,
  ): Promise<{ kind: 'done'; saga: SagaRecord; afterCommit: AfterCommit } | { kind: 'stale' }> {
    const id = saga.context.transactionId;
    try {
      return await this.tx.run(async () => {
        const version = await this.sagas.transition(id, saga.version, {
          status,
          error,
          leaseOwner: this.identity.id,
          leaseMs: this.leaseMs,
        });
        if (version === undefined) throw new MovedOn();
        const after = sagaRecord({
          context: saga.context,
          status,
          version,
          startedAt: saga.startedAt,
          completed: saga.completed,
          compensated: saga.compensated,
          error,
        });
        const afterCommit = raise === undefined ? NOTHING_AFTER_COMMIT : await raise(after);
        return { kind: 'done', saga: after, afterCommit } as const;
      });
    } catch (failure) {
      if (failure instanceof MovedOn) return { kind: 'stale' };
      throw failure;
    }
  }

  private async applyOne(
    saga: SagaRecord,
    change: StepChange,
    record: StepRecord,
  ): Promise<number> {
    let version: number | undefined;
    try {
      [version] = await this.sagas.applyTransitions([
        fencedTransition(saga, change, record, this.lease()),
      ]);
    } catch (error) {
      // The step already succeeded once: another driver got here first.
      if (isUniqueViolation(error, 'uq_saga_step_results_success')) throw new MovedOn();
      throw error;
    }
    if (version === undefined) throw new MovedOn();
    return version;
  }

  private lease(): Lease {
    return { owner: this.identity.id, ms: this.leaseMs };
  }
}
