import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { BatchOutcome, BatchQueue } from '../../../common/batch-queue';
import type { AppConfig, SagaConfig } from '../../../config/configuration';
import { InstanceIdentity } from './instance-identity';
import { TransactionHost } from '../../../database/transaction-host';
import type { SagaStatus } from './saga-state.entity';
import { SagaRepository } from './saga.repository';
import type { SagaRecord, StepData } from './saga';
import type { SagaStep } from './steps/saga-step';
import { SagaSteps } from './steps/saga-steps';
import {
  committedTransition,
  fencedTransition,
  HookedTransition,
  runHooks,
  StaleSagaError,
  type StepChange,
  type StepRecord,
  type TransitionHook,
} from './transition';

/** The most sagas one batch takes through a step. */
const MAX_BATCH = 128;

/** One saga's turn at a forward step. */
export interface ForwardRequest {
  saga: SagaRecord;
  step: SagaStep;
  /** The saga's status once the step commits. */
  status: SagaStatus;
  hook?: TransitionHook;
  startedAt: number;
}

/** A forward step that committed: the saga as it now stands and what the step recorded. */
export interface CommittedStep {
  after: SagaRecord;
  data: StepData;
  durationMs: number;
}

/**
 * Group commit for saga steps: the forward steps of concurrent sagas share transactions. While
 * a batch commits, the sagas arriving at their next step (whichever it is) wait, and the next
 * batch takes them all. A batch is one transaction of a few statements whatever its size: the
 * sagas' rows are fenced on their versions and locked, each step present runs its effect for all
 * of its sagas in one go (decided in order, as if one after the other; the steps' statements
 * leave together), then every transition and result row is written in one statement, sent
 * together with what the patterns' hooks write. Each saga still gets its own outcome: a refused
 * or failed saga does not hold the others back.
 */
@Injectable()
export class StepBatches {
  private readonly config: SagaConfig;
  private readonly queue: BatchQueue<ForwardRequest, CommittedStep>;

  constructor(
    private readonly sagas: SagaRepository,
    private readonly tx: TransactionHost,
    private readonly steps: SagaSteps,
    private readonly identity: InstanceIdentity,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('saga', { infer: true });
    this.queue = new BatchQueue((requests) => this.flush(requests), {
      maxBatch: MAX_BATCH,
      // Two batches at once keep the database busy while one waits for its commit; more would
      // only queue on the same rows.
      concurrency: 2,
    });
  }

  /** Resolves once the step committed for this saga; rejects with its refusal or failure. */
  forward(request: ForwardRequest): Promise<CommittedStep> {
    return this.queue.submit(request);
  }

  private async flush(requests: ForwardRequest[]): Promise<BatchOutcome<CommittedStep>[]> {
    const outcomes: BatchOutcome<CommittedStep>[] = requests.map(() => ({ kind: 'requeue' }));
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
        const id = requests[index].saga.context.transactionId;
        if (live.has(id)) return true;
        outcomes[index] = { kind: 'error', error: new StaleSagaError(id) };
        return false;
      });

      // Each step's effect for its sagas, steps in saga order (the order rows are locked in).
      // They are issued together: their statements share a round trip and run in that order.
      const attempted = this.steps.ordered.flatMap((step) => {
        const mine = runnable.filter((index) => requests[index].step.name === step.name);
        if (mine.length === 0) return [];
        const contexts = mine.map((index) => requests[index].saga.context);
        return [{ step, mine, attempts: requests[mine[0]].step.execute(contexts) }];
      });
      const settled = await Promise.all(attempted.map(({ attempts }) => attempts));
      const finishedAt = Date.now();
      const done: { index: number; data: StepData; record: StepRecord }[] = [];
      attempted.forEach(({ step, mine }, position) => {
        settled[position].forEach((attempt, at) => {
          const index = mine[at];
          if (attempt.kind !== 'value') {
            outcomes[index] = attempt;
            return;
          }
          const record: StepRecord = {
            kind: 'forward',
            step: step.name,
            outcome: 'success',
            data: attempt.value,
            durationMs: finishedAt - requests[index].startedAt,
          };
          done.push({ index, data: attempt.value, record });
        });
      });
      if (done.length === 0) return outcomes;

      // The rows were locked at their versions above: each transition takes its saga one
      // version on, so what it raises (the hooks) is written in the same round trip, and the
      // COMMIT follows them there (a transition that did not apply fails its statement, and
      // the server then rolls the whole batch back).
      const changes = done.map(({ index, data, record }) => {
        const { saga, step, status, hook } = requests[index];
        const change: StepChange = { status, currentStep: step.name };
        return {
          index,
          data,
          record,
          fenced: fencedTransition(saga, change, record, {
            owner: this.identity.id,
            ms: this.config.leaseMs,
          }),
          transition: committedTransition(saga, saga.version + 1, change, record),
          hook,
        };
      });
      const hooked = changes.flatMap(({ transition, hook }): HookedTransition[] =>
        hook === undefined ? [] : [{ transition, hook }],
      );
      const applied = this.sagas.applyTransitions(
        changes.map(({ fenced }) => fenced),
        { locked: true },
      );
      const hooks = runHooks(hooked);
      await Promise.all([applied, hooks, this.tx.commit()]);
      for (const { index, data, record, transition } of changes) {
        outcomes[index] = {
          kind: 'value',
          value: { after: transition.saga, data, durationMs: record.durationMs },
        };
      }
      return outcomes;
    });
  }
}
