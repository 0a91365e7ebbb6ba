import type { StepKind } from './saga-step-result.entity';
import type { FencedTransition } from './saga.repository';
import {
  sagaRecord,
  type SagaError,
  type SagaRecord,
  type SagaStatus,
  type StepData,
  type StepName,
} from './saga';

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

/** What a pattern does once the transitions it wrote for have committed (choreography: publish). */
export type AfterCommit = () => void;

export const NOTHING_AFTER_COMMIT: AfterCommit = () => undefined;

/**
 * A pattern's writer: inside the transaction of transitions committing together, it writes what
 * they raise (choreography: their outbox events) and answers, per transition, what to do once
 * they have committed. One writer serves a whole pattern, so a step batch costs it one call; it
 * issues its statements before its first await, and the batch sends its COMMIT right behind them.
 */
export interface TransitionWriter {
  write(transitions: readonly RaisedTransition[]): Promise<AfterCommit[]>;
}

/** Who writes what a saga's transitions raise, and the cause to record with it (an event id). */
export interface Raise {
  readonly writer: TransitionWriter;
  readonly cause: string | null;
}

export interface RaisedTransition {
  transition: Transition;
  cause: string | null;
  /** The trace what it raises continues (W3C traceparent), with tracing on. */
  traceParent?: string;
}

/**
 * Writes what transitions committing together raise: one call per writer, all issued at once.
 * Answers, per transition, what to do once they have committed.
 */
export async function writeRaised(
  items: readonly {
    transition: Transition;
    raise: Raise | undefined;
    traceParent?: string | null;
  }[],
): Promise<AfterCommit[]> {
  const after: AfterCommit[] = items.map(() => NOTHING_AFTER_COMMIT);
  const byWriter = new Map<TransitionWriter, number[]>();
  items.forEach(({ raise }, index) => {
    if (raise === undefined) return;
    const group = byWriter.get(raise.writer);
    if (group === undefined) byWriter.set(raise.writer, [index]);
    else group.push(index);
  });
  await Promise.all(
    [...byWriter].map(async ([writer, indexes]) => {
      const written = await writer.write(
        indexes.map((index): RaisedTransition => {
          const { transition, raise, traceParent } = items[index];
          const raised: RaisedTransition = { transition, cause: raise?.cause ?? null };
          if (traceParent !== null && traceParent !== undefined) raised.traceParent = traceParent;
          return raised;
        }),
      );
      indexes.forEach((index, at) => (after[index] = written[at]));
    }),
  );
  return after;
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
    saga: sagaRecord({
      context: saga.context,
      status: change.status,
      version,
      startedAt: saga.startedAt,
      completed:
        succeeded && done.kind === 'forward' ? [...saga.completed, done.step] : saga.completed,
      compensated:
        succeeded && done.kind === 'compensation'
          ? [...saga.compensated, done.step]
          : saga.compensated,
      error: change.error ?? saga.error,
    }),
    step: done.step,
    kind: done.kind,
    outcome: done.outcome,
    status: change.status,
    data: done.data,
    error: done.error ?? null,
  };
}
