import type { SagaStatus } from './saga-state.entity';
import type { StepKind } from './saga-step-result.entity';
import type { FencedTransition } from './saga.repository';
import type { SagaError, SagaRecord, StepData, StepName } from './saga';

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
 * cost it one call. It issues its statements before its first await: a step batch sends its
 * COMMIT right behind them.
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

/**
 * Runs the hooks of transitions committing together: one call per writer, all issued at once (a
 * writer sends its statements before its first await, so they leave together).
 */
export async function runHooks(hooked: readonly HookedTransition[]): Promise<void> {
  const byWriter = new Map<TransitionWriter, HookedTransition[]>();
  for (const item of hooked) {
    const group = byWriter.get(item.hook.write);
    if (group === undefined) byWriter.set(item.hook.write, [item]);
    else group.push(item);
  }
  await Promise.all([...byWriter].map(([write, group]) => write(group)));
}

/** What a step or compensation recorded: the content of its result row. */
export interface StepRecord {
  kind: StepKind;
  step: StepName;
  outcome: 'success' | 'failed';
  data: StepData | null;
  durationMs: number;
  error?: SagaError;
}

/** The change of a saga's row with a step's record. */
export interface StepChange {
  status: SagaStatus;
  currentStep: StepName;
  error?: SagaError;
}

/** Who holds a saga after a transition, and for how long. */
export interface Lease {
  owner: string;
  ms: number;
}

/** The fenced transition that writes `done` for a saga still at its version, leased to us. */
export function fencedTransition(
  saga: SagaRecord,
  change: StepChange,
  done: StepRecord,
  lease: Lease,
): FencedTransition {
  return {
    transactionId: saga.context.transactionId,
    expectedVersion: saga.version,
    change: { ...change, leaseOwner: lease.owner, leaseMs: lease.ms },
    result: {
      step: done.step,
      kind: done.kind,
      status: done.outcome,
      data: done.data,
      errorCode: done.error?.code ?? null,
      errorMessage: done.error?.message ?? null,
      durationMs: done.durationMs,
    },
  };
}

/** What committed once that transition moved the saga to `version`: `saga` as it now stands. */
export function committedTransition(
  saga: SagaRecord,
  version: number,
  change: StepChange,
  done: StepRecord,
): Transition {
  const succeeded = done.outcome === 'success';
  return {
    saga: {
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
    },
    step: done.step,
    kind: done.kind,
    outcome: done.outcome,
    status: change.status,
    data: done.data,
    error: done.error ?? null,
  };
}
