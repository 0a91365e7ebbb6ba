import { Injectable } from '@nestjs/common';
import type { SagaRecord } from '../core/saga';
import { SagaSteps } from '../core/steps/saga-steps';
import { InstanceIdentity } from '../core/instance-identity';
import { StepRunner } from '../core/step-runner';

/**
 * The orchestration pattern: one driver calls the steps in order and, when one is refused or
 * keeps failing before the pivot, compensates the committed ones in reverse. It holds no business
 * rule: the steps do the work, the runner the transactions.
 */
@Injectable()
export class Orchestrator {
  constructor(
    private readonly steps: SagaSteps,
    private readonly runner: StepRunner,
    private readonly identity: InstanceIdentity,
  ) {}

  /** Drives a saga from wherever it stands to a terminal status. */
  async run(saga: SagaRecord): Promise<SagaRecord> {
    if (saga.status === 'compensating') return this.compensate(saga);
    const last = this.steps.ordered.length - 1;
    for (let index = saga.completed.length; index <= last; index++) {
      // Shutting down: the saga waits, leased, for the hand-over to another instance.
      if (this.identity.draining) return saga;
      const step = this.steps.ordered[index];
      const outcome = await this.runner.forward(saga, step, index === last);
      if (outcome.kind === 'done') continue;
      if (index > this.steps.pivotIndex) {
        await this.runner.giveUp(saga, step, outcome.error);
        return saga;
      }
      await this.runner.recordFailure(saga, step, outcome.error);
      return this.compensate(saga);
    }
    return saga;
  }

  /** Undoes the committed steps not yet undone, newest first. */
  async compensate(saga: SagaRecord): Promise<SagaRecord> {
    const pending = saga.completed.filter((name) => !saga.compensated.includes(name)).reverse();
    for (const [position, name] of pending.entries()) {
      if (this.identity.draining) return saga;
      const result = await this.runner.compensate(
        saga,
        this.steps.get(name),
        position === pending.length - 1,
      );
      if (result === 'failed') break;
    }
    return saga;
  }
}
