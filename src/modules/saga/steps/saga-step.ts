import type { SagaContext, StepData, StepName } from '../saga.types';

/**
 * One local transaction of the purchase saga and its compensation. Both patterns call the very
 * same objects: the orchestrator in sequence, the choreography handlers on events. Each method
 * runs inside the transaction the engine opened, together with the step's result row.
 */
export interface SagaStep {
  readonly name: StepName;
  /** Once this step commits the purchase completes: later steps are retried, never undone. */
  readonly pivot?: boolean;
  /** The forward effect. Throws a DomainError to refuse (never retried). */
  execute(context: SagaContext): Promise<StepData>;
  /** Undoes a committed `execute`; absent for steps past the pivot. */
  compensate?(context: SagaContext): Promise<StepData>;
  /** Past the pivot only: records that the step gave up after its retries; the saga completes. */
  giveUp?(context: SagaContext, reason: string): Promise<StepData>;
}
