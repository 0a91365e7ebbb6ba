import { Injectable } from '@nestjs/common';
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
export class SagaEngines {
  constructor(
    private readonly orchestrator: Orchestrator,
    private readonly runner: StepRunner,
  ) {}

  /** Starts driving a freshly recorded saga. */
  start(row: SagaRow): Promise<SagaRecord> {
    const saga = toRecord(row, []);
    switch (row.pattern) {
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
        return this.orchestrator.compensate(saga);
      case 'choreography':
        return this.orchestrator.compensate(saga);
    }
  }
}
