import type { BatchOutcome } from '../../../../common/batch-queue';
import type { SagaContext, StepData, StepName } from '../saga';

/** What a step's effect answers for one saga of a batch (a DomainError refuses it). */
export type StepAttempt = BatchOutcome<StepData>;

/**
 * One local transaction of the purchase saga and its compensation. Both patterns call the very
 * same objects: the orchestrator in sequence, the choreography handlers on events. Each method
 * runs inside the transaction the engine opened, together with the step's result row.
 */
export interface SagaStep {
  readonly name: StepName;
  /** Once this step commits the purchase completes: later steps are retried, never undone. */
  readonly pivot?: boolean;
  /**
   * The forward effect for the sagas of one batch, decided in order as if one after the other,
   * in one transaction: one attempt per saga. An error that is a DomainError refuses that saga
   * (never retried); any other fails its attempt (retried); `requeue` leaves it for a later
   * batch.
   */
  execute(contexts: readonly SagaContext[]): Promise<StepAttempt[]>;
  /** Undoes a committed `execute`; absent for steps past the pivot. */
  compensate?(context: SagaContext): Promise<StepData>;
  /** Past the pivot only: records that the step gave up after its retries; the saga completes. */
  giveUp?(context: SagaContext, reason: string): Promise<StepData>;
}
