import type { Span } from '@opentelemetry/api';
import { BatchOutcome, BatchQueue } from '../../../common/batch-queue';
import { DomainError } from '../../../common/errors/domain-error';
import { inBatchSpan, traceParentOf } from '../../../common/tracing/tracer';
import { TransactionHost } from '../../../database/transaction-host';
import type { SagaRecord, SagaStatus, StepData } from './saga';
import { SagaRepository } from './saga.repository';
import type { SagaStep } from './steps/saga-step';
import type { SagaSteps } from './steps/saga-steps';
import {
  committedTransition,
  fencedTransition,
  writeRaised,
  type AfterCommit,
  type Lease,
  type Raise,
  type StepChange,
  type StepRecord,
} from './transition';

/** The most sagas one batch takes through a step. */
const MAX_BATCH = 128;

/** One saga's turn at a forward step. */
export interface ForwardRequest {
  saga: SagaRecord;
  step: SagaStep;
  /** The saga's status once the step commits. */
  status: SagaStatus;
  raise?: Raise;
  startedAt: number;
  /** The saga's span for this step, which links to the batch's. */
  span?: Span;
}

/** How a forward step went for one saga: as data, whatever happened. */
export type ForwardOutcome =
  | {
      kind: 'done';
      /** The saga as it now stands. */
      saga: SagaRecord;
      data: StepData;
      durationMs: number;
      afterCommit: AfterCommit;
    }
  /** A business rule said no: not retried. */
  | { kind: 'refused'; error: DomainError }
  /** Something else went wrong: worth another attempt. */
  | { kind: 'failed'; error: unknown }
  /** Another driver moved the saga on first: this one must let it be. */
  | { kind: 'stale' };

/**
 * Group commit for saga steps, behind SagaStore: the forward steps of concurrent sagas share
 * transactions. While a batch commits, the sagas arriving at their next step (whichever it is)
 * wait, and the next batch takes them all. A batch is one transaction of a few statements
 * whatever its size: the sagas' rows are fenced on their versions and locked, each step present
 * runs its effect for all of its sagas in one go (decided in order, as if one after the other;
 * the steps' statements leave together, item_grant's inventory statement once its reservation
 * is answered), then every transition and result row is written in one statement, sent
 * together with what the patterns' writers raise and the COMMIT. Each saga still gets its own
 * outcome: a refused or failed saga does not hold the others back.
 */
export class StepBatches {
  private readonly queue: BatchQueue<ForwardRequest, ForwardOutcome>;

  constructor(
    private readonly sagas: SagaRepository,
    private readonly tx: TransactionHost,
    private readonly steps: SagaSteps,
    private readonly lease: () => Lease,
  ) {
    this.queue = new BatchQueue((requests) => this.flush(requests), {
      maxBatch: MAX_BATCH,
      // Two batches at once keep the database busy while one waits for its commit; more would
      // only queue on the same rows.
      concurrency: 2,
    });
  }

  /** Resolves with the step's outcome for this saga; rejects only when its batch failed whole. */
  forward(request: ForwardRequest): Promise<ForwardOutcome> {
    return this.queue.submit(request);
  }

  /** A batch, traced as one `saga.step_batch` span linked from each of its sagas' step spans. */
  private flush(requests: ForwardRequest[]): Promise<BatchOutcome<ForwardOutcome>[]> {
    return inBatchSpan(
      'saga.step_batch',
      requests.map(({ span }) => span),
      { 'saga.batch.size': requests.length },
      () => this.run(requests),
    );
  }

  private async run(requests: ForwardRequest[]): Promise<BatchOutcome<ForwardOutcome>[]> {
    const outcomes: BatchOutcome<ForwardOutcome>[] = requests.map(() => ({ kind: 'requeue' }));
    const settle = (index: number, outcome: ForwardOutcome) =>
      (outcomes[index] = { kind: 'value', value: outcome });
    // A saga twice in one batch (a duplicate event): the first goes, the other waits its turn
    // (and then finds itself stale).
    const firsts = new Map<string, number>();
    requests.forEach((request, index) => {
      const id = request.saga.context.transactionId;
      if (!firsts.has(id)) firsts.set(id, index);
    });
    const candidates = [...firsts.values()];
    return this.tx.run(async () => {
      const live = await this.sagas.lockAtVersions(
        candidates.map((index) => ({
          transactionId: requests[index].saga.context.transactionId,
          version: requests[index].saga.version,
        })),
      );
      const runnable = candidates.filter((index) => {
        if (live.has(requests[index].saga.context.transactionId)) return true;
        settle(index, { kind: 'stale' });
        return false;
      });

      // Each step's effect for its sagas, steps in saga order (the order rows are locked in).
      // They are issued together: their statements share a round trip and run in that order
      // (item_grant's inventory statement waits for the stock it reserved: one round trip more).
      const attempted = this.steps.ordered.flatMap((step) => {
        const mine = runnable.filter((index) => requests[index].step.name === step.name);
        if (mine.length === 0) return [];
        const contexts = mine.map((index) => requests[index].saga.context);
        return [{ step, mine, attempts: step.execute(contexts) }];
      });
      const settled = await Promise.all(attempted.map(({ attempts }) => attempts));
      const finishedAt = Date.now();
      const done: { index: number; record: StepRecord & { data: StepData } }[] = [];
      attempted.forEach(({ step, mine }, position) => {
        settled[position].forEach((attempt, at) => {
          const index = mine[at];
          if (attempt.kind === 'requeue') return;
          if (attempt.kind === 'error') {
            const { error } = attempt;
            settle(
              index,
              error instanceof DomainError ? { kind: 'refused', error } : { kind: 'failed', error },
            );
            return;
          }
          done.push({
            index,
            record: {
              kind: 'forward',
              step: step.name,
              outcome: 'success',
              data: attempt.value,
              durationMs: finishedAt - requests[index].startedAt,
            },
          });
        });
      });
      if (done.length === 0) return outcomes;

      // The rows were locked at their versions above: each transition takes its saga one
      // version on, so what it raises is written in the same round trip, and the COMMIT follows
      // them there (a transition that did not apply fails its statement, and the server then
      // rolls the whole batch back).
      const lease = this.lease();
      const changes = done.map(({ index, record }) => {
        const { saga, status, raise, span } = requests[index];
        const change: StepChange = { status, currentStep: record.step };
        return {
          index,
          record,
          raise,
          // What it raises continues the trace of the saga's step.
          traceParent: traceParentOf(span) ?? saga.context.traceParent,
          fenced: fencedTransition(saga, change, record, lease),
          transition: committedTransition(saga, saga.version + 1, change, record),
        };
      });
      const applied = this.sagas.applyTransitions(
        changes.map(({ fenced }) => fenced),
        { locked: true },
      );
      const raised = writeRaised(changes);
      const [, afterCommit] = await Promise.all([applied, raised, this.tx.commit()]);
      changes.forEach(({ index, record, transition }, at) =>
        settle(index, {
          kind: 'done',
          saga: transition.saga,
          data: record.data,
          durationMs: record.durationMs,
          afterCommit: afterCommit[at],
        }),
      );
      return outcomes;
    });
  }
}
