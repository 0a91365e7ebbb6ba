import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { BatchOutcome, BatchQueue } from '../../../common/batch-queue';
import type { AppConfig, SagaConfig } from '../../../config/configuration';
import { TransactionHost } from '../../../database/transaction-host';
import type { SagaStatus } from '../saga-state.entity';
import { SagaRepository } from '../saga.repository';
import type { SagaRecord, StepData, StepName } from '../saga.types';
import type { SagaStep } from '../steps/saga-step';
import { SagaSteps } from '../steps/saga-steps';
import { INSTANCE_ID } from './instance-id';
import {
  advanced,
  HookedTransition,
  runHooks,
  StaleSagaError,
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
 * Runs the forward steps of concurrent sagas in shared transactions, one queue per step: while
 * a batch commits, the sagas arriving at that step wait, and the next batch takes them all. A
 * batch is one transaction of a few statements whatever its size: the sagas' rows are fenced on
 * their versions and locked, the step's effect runs for all of them (decided in order, as if one
 * after the other), the transitions and result rows are written, and the pattern's hooks run.
 * Each saga still gets its own outcome: a refused or failed saga does not hold the others back.
 */
@Injectable()
export class StepBatches {
  private readonly config: SagaConfig;
  private readonly queues = new Map<StepName, BatchQueue<ForwardRequest, CommittedStep>>();

  constructor(
    private readonly sagas: SagaRepository,
    private readonly tx: TransactionHost,
    steps: SagaSteps,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('saga', { infer: true });
    for (const step of steps.ordered) {
      this.queues.set(
        step.name,
        new BatchQueue((requests) => this.flush(requests), {
          maxBatch: MAX_BATCH,
          // One batch per step at a time: two would only queue on the same hot rows.
          concurrency: 1,
        }),
      );
    }
  }

  /** Resolves once the step committed for this saga; rejects with its refusal or failure. */
  forward(request: ForwardRequest): Promise<CommittedStep> {
    const queue = this.queues.get(request.step.name);
    if (queue === undefined) throw new Error(`Unknown step ${request.step.name}`);
    return queue.submit(request);
  }

  /** One batch: its requests are all at the same step. */
  private async flush(requests: ForwardRequest[]): Promise<BatchOutcome<CommittedStep>[]> {
    const { step } = requests[0];
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
      if (runnable.length === 0) return outcomes;

      const attempts = await step.execute(runnable.map((index) => requests[index].saga.context));
      const done: { index: number; data: StepData; durationMs: number }[] = [];
      const finishedAt = Date.now();
      attempts.forEach((attempt, position) => {
        const index = runnable[position];
        if (attempt.kind === 'value') {
          done.push({
            index,
            data: attempt.value,
            durationMs: finishedAt - requests[index].startedAt,
          });
        } else {
          outcomes[index] = attempt;
        }
      });
      if (done.length === 0) return outcomes;

      const versions = await this.sagas.applyTransitions(
        done.map(({ index, data, durationMs }) => {
          const { saga, status } = requests[index];
          return {
            transactionId: saga.context.transactionId,
            expectedVersion: saga.version,
            change: {
              status,
              currentStep: step.name,
              leaseOwner: INSTANCE_ID,
              leaseMs: this.config.leaseMs,
            },
            result: {
              step: step.name,
              kind: 'forward' as const,
              status: 'success' as const,
              data,
              errorCode: null,
              errorMessage: null,
              durationMs,
            },
          };
        }),
      );
      const hooked: HookedTransition[] = [];
      done.forEach(({ index, data, durationMs }, position) => {
        const { saga, status, hook } = requests[index];
        const version = versions[position];
        // The rows were locked at these versions above: nothing can have moved them.
        if (version === undefined) throw new StaleSagaError(saga.context.transactionId);
        const after = advanced(
          saga,
          version,
          { status },
          { kind: 'forward', step: step.name, outcome: 'success' },
        );
        outcomes[index] = { kind: 'value', value: { after, data, durationMs } };
        if (hook !== undefined) {
          hooked.push({
            transition: {
              saga: after,
              step: step.name,
              kind: 'forward',
              outcome: 'success',
              status,
              data,
              error: null,
            },
            hook,
          });
        }
      });
      await runHooks(hooked);
      return outcomes;
    });
  }
}
