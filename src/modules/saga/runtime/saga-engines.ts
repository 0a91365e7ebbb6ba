import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../../config/configuration';
import { ChoreographyEngine } from '../choreography/choreography.engine';
import type { PendingEvent } from '../choreography/outbox.repository';
import { remainingToCompensate } from '../choreography/saga-events';
import { toRecord } from '../read-model/saga.mapper';
import type { SagaRow, StepRow } from '../core/saga.repository';
import type { SagaError, SagaRecord } from '../core/saga';
import { Orchestrator } from '../orchestration/orchestrator';
import { SagaWaiters } from '../core/saga-waiters';
import { StepRunner } from '../core/step-runner';

/** A saga just recorded, with what its pattern wrote in the same transaction. */
export interface InitiatedSaga {
  saga: SagaRecord;
  outbox: PendingEvent[];
}

/**
 * Hands each saga to the engine of the pattern that owns it (the orchestrator, or the
 * choreography's events): only that pattern ever advances it.
 */
@Injectable()
export class SagaEngines implements BeforeApplicationShutdown {
  private readonly logger = new Logger(SagaEngines.name);
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly waitMs: number;

  constructor(
    private readonly orchestrator: Orchestrator,
    private readonly choreography: ChoreographyEngine,
    private readonly runner: StepRunner,
    private readonly waiters: SagaWaiters,
    config: ConfigService<AppConfig, true>,
  ) {
    this.waitMs = config.get('saga', { infer: true }).purchaseWaitMs;
  }

  /**
   * Inside the transaction that records new sagas: choreography writes their PurchaseInitiated
   * (in one statement, issued before the first await: the caller's COMMIT follows it).
   */
  async initiate(rows: readonly SagaRow[]): Promise<InitiatedSaga[]> {
    const sagas = rows.map((row) => toRecord(row, []));
    const choreographed = sagas.filter((saga) => saga.context.pattern === 'choreography');
    const written =
      choreographed.length === 0 ? [] : await this.choreography.initiate(choreographed);
    const outboxOf = new Map(
      choreographed.map((saga, index) => [saga.context.transactionId, written[index]]),
    );
    return sagas.map((saga) => ({
      saga,
      outbox: outboxOf.get(saga.context.transactionId) ?? [],
    }));
  }

  /**
   * After that commit: sets the saga going. Resolves true once it is terminal, false when
   * `waitMs` passed first (it goes on in the background); rejects if its driver here failed.
   */
  start(initiated: InitiatedSaga, waitMs: number): Promise<boolean> {
    const { saga, outbox } = initiated;
    switch (saga.context.pattern) {
      case 'orchestration':
        return this.settledWithin(this.track(this.orchestrator.run(saga)), waitMs);
      case 'choreography': {
        // Nothing moves the saga before its first event is published.
        const settled = this.waiters.wait(saga.context.transactionId, waitMs, -1, false);
        this.choreography.publish(outbox);
        return settled;
      }
    }
  }

  /**
   * Goes on with a saga claimed by recovery, in its own pattern, from its last committed step:
   * forward, or compensation when it was compensating or outlived SAGA_TIMEOUT_MS before its
   * pivot (the runner decides that at the next step).
   */
  async resume(row: SagaRow, steps: StepRow[]): Promise<void> {
    const saga = toRecord(row, steps);
    switch (saga.context.pattern) {
      case 'orchestration':
        await this.track(this.orchestrator.run(saga));
        return;
      case 'choreography':
        this.choreography.publish(await this.choreography.resume(saga));
        return;
    }
  }

  /**
   * Compensates a stored saga from what it has committed (admin re-drive): a saga still running
   * is first taken over (fenced), so its current driver stops at its next transition.
   */
  async compensate(row: SagaRow, steps: StepRow[], reason: SagaError): Promise<void> {
    const saga = toRecord(row, steps);
    const takeOver = saga.status !== 'compensating' && saga.status !== 'failed';
    switch (saga.context.pattern) {
      case 'orchestration':
        if (takeOver) await this.runner.abort(saga, reason);
        await this.track(this.orchestrator.compensate(saga));
        return;
      case 'choreography': {
        const outbox: PendingEvent[] = [];
        const from = saga.version;
        if (takeOver) {
          await this.runner.abort(saga, reason, async (after) => {
            outbox.push(
              ...(await this.choreography.requestCompensation(after, remainingToCompensate(after))),
            );
          });
        } else {
          outbox.push(
            ...(await this.choreography.requestCompensation(saga, remainingToCompensate(saga))),
          );
        }
        const settled = this.waiters.wait(saga.context.transactionId, this.waitMs, from, false);
        this.choreography.publish(outbox);
        await settled;
        return;
      }
    }
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.drain();
  }

  /**
   * On shutdown, the drivers of sagas here get to the end of the step they are in (they take no
   * next one while the instance drains), for at most 10 s.
   */
  async drain(): Promise<void> {
    if (this.inFlight.size === 0) return;
    this.logger.log(`Waiting for ${this.inFlight.size} saga(s) in flight`);
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
    ]);
  }

  private track<T>(run: Promise<T>): Promise<T> {
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  private async settledWithin(run: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      const finished = await Promise.race([run.then(() => true as const), timeout]);
      if (!finished) {
        run.catch((error: unknown) => this.logger.error(`Saga stopped: ${String(error)}`));
      }
      return finished;
    } finally {
      clearTimeout(timer);
    }
  }
}
