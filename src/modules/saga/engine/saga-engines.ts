import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { DomainError } from '../../../common/errors/domain-error';
import { toRecord } from '../saga.mapper';
import type { SagaRow, StepRow } from '../saga.repository';
import type { SagaError, SagaRecord } from '../saga.types';
import { Orchestrator } from './orchestrator';
import { StepRunner } from './step-runner';

/**
 * Hands a saga to the engine of the pattern that owns it: only that pattern ever advances it.
 */
@Injectable()
export class SagaEngines implements BeforeApplicationShutdown {
  private readonly logger = new Logger(SagaEngines.name);
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly orchestrator: Orchestrator,
    private readonly runner: StepRunner,
  ) {}

  /** Starts driving a freshly recorded saga. */
  start(row: SagaRow): Promise<SagaRecord> {
    return this.track(this.drive(toRecord(row, [])));
  }

  /** On shutdown, sagas being driven get to finish (recovery would otherwise pick them up later). */
  async beforeApplicationShutdown(): Promise<void> {
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

  private drive(saga: SagaRecord): Promise<SagaRecord> {
    switch (saga.context.pattern) {
      case 'orchestration':
        return this.orchestrator.run(saga);
      case 'choreography':
        return Promise.reject(
          new DomainError('VALIDATION_FAILED', 'The choreography pattern is not available yet'),
        );
    }
  }

  /**
   * Compensates a stored saga from what it has committed (admin re-drive): a saga still running
   * is first taken over (fenced), so its current driver stops at its next transition.
   */
  async compensate(row: SagaRow, steps: StepRow[], reason: SagaError): Promise<SagaRecord> {
    const saga = toRecord(row, steps);
    if (saga.status !== 'compensating' && saga.status !== 'failed') {
      await this.runner.abort(saga, reason);
    }
    switch (row.pattern) {
      case 'orchestration':
        return this.track(this.orchestrator.compensate(saga));
      case 'choreography':
        return this.track(this.orchestrator.compensate(saga));
    }
  }
}
