import type { SagaStatus } from '../saga-state.entity';
import type { StepKind } from '../saga-step-result.entity';
import type { SagaError, SagaRecord, StepData, StepName } from '../saga.types';

/** Another driver advanced the saga first: this one must stop touching it. */
export class StaleSagaError extends Error {
  constructor(transactionId: string) {
    super(`Saga ${transactionId} was advanced by another driver`);
    this.name = 'StaleSagaError';
  }
}

/** What a transition committed, for a pattern to act on inside the same transaction. */
export interface Transition {
  /** The saga as it stands once this transition commits. */
  saga: SagaRecord;
  step: StepName;
  kind: StepKind;
  outcome: 'success' | 'failed';
  status: SagaStatus;
  data: StepData | null;
  error: SagaError | null;
}

/**
 * Writes, inside the transaction of one or more transitions, what they raise (choreography: its
 * outbox events). One writer serves all the hooks of a pattern, so the transitions of a batch
 * cost it one call.
 */
export type TransitionWriter = (transitions: readonly HookedTransition[]) => Promise<void>;

/** Handed to the runner by a pattern that writes something with each of a saga's transitions. */
export interface TransitionHook {
  readonly write: TransitionWriter;
}

export interface HookedTransition {
  transition: Transition;
  hook: TransitionHook;
}

/** Runs the hooks of transitions committing together: one call per writer. */
export async function runHooks(hooked: readonly HookedTransition[]): Promise<void> {
  const byWriter = new Map<TransitionWriter, HookedTransition[]>();
  for (const item of hooked) {
    const group = byWriter.get(item.hook.write);
    if (group === undefined) byWriter.set(item.hook.write, [item]);
    else group.push(item);
  }
  for (const [write, group] of byWriter) await write(group);
}

/** The saga as it stands after a transition to `status` at `version` that recorded `done`. */
export function advanced(
  saga: SagaRecord,
  version: number,
  change: { status: SagaStatus; error?: SagaError },
  done: { kind: StepKind; step: StepName; outcome: 'success' | 'failed' },
): SagaRecord {
  const succeeded = done.outcome === 'success';
  return {
    ...saga,
    version,
    status: change.status,
    error: change.error ?? saga.error,
    completed:
      succeeded && done.kind === 'forward' ? [...saga.completed, done.step] : saga.completed,
    compensated:
      succeeded && done.kind === 'compensation'
        ? [...saga.compensated, done.step]
        : saga.compensated,
  };
}
