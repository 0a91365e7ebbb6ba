import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { StepRunner } from '../core/step-runner';
import { StaleSagaError } from '../core/transition';
import { isTerminal } from '../read-model/saga.mapper';
import type { StepName } from '../core/saga';
import { SagaSteps } from '../core/steps/saga-steps';
import { ChoreographyEngine, OutboxHook } from './choreography.engine';
import { recordOf, SagaEventEnvelope } from './saga-events';

const HANDLER = { suppressErrors: false } as const;

/**
 * A participant of the choreography: it reacts to the event that precedes its step by running
 * that step (the same object the orchestrator calls), and to compensation events naming its step
 * by undoing it. Events seen twice, or for sagas of the other pattern, change nothing.
 */
@Injectable()
abstract class Participant {
  constructor(
    private readonly steps: SagaSteps,
    private readonly runner: StepRunner,
    private readonly choreography: ChoreographyEngine,
  ) {}

  protected async advance(event: SagaEventEnvelope, name: StepName): Promise<void> {
    const saga = recordOf(event.saga);
    if (saga.context.pattern !== 'choreography') return;
    if (isTerminal(saga.status) || saga.completed.includes(name)) return;
    const step = this.steps.get(name);
    const isLast = this.steps.indexOf(name) === this.steps.ordered.length - 1;
    await this.guarded(event, async (hook) => {
      const outcome = await this.runner.forward(saga, step, isLast, hook);
      if (outcome.kind === 'done') return;
      if (this.steps.isPastPivot(name)) await this.runner.giveUp(saga, step, outcome.error, hook);
      else await this.runner.recordFailure(saga, step, outcome.error, hook);
    });
  }

  protected async undo(event: SagaEventEnvelope, name: StepName): Promise<void> {
    const remaining = event.data.remaining as StepName[] | undefined;
    if (remaining?.[0] !== name) return;
    const saga = recordOf(event.saga);
    if (saga.context.pattern !== 'choreography' || saga.compensated.includes(name)) return;
    await this.guarded(event, async (hook) => {
      await this.runner.compensate(saga, this.steps.get(name), remaining.length === 1, hook);
    });
  }

  private async guarded(
    event: SagaEventEnvelope,
    work: (hook: OutboxHook) => Promise<void>,
  ): Promise<void> {
    const hook = this.choreography.hook(event.eventId);
    try {
      await work(hook);
    } catch (error) {
      // Another handler already moved the saga on (a duplicate or late event): nothing to do.
      if (error instanceof StaleSagaError) return;
      throw error;
    }
    this.choreography.publish(hook.committed);
  }
}

@Injectable()
export class UserParticipant extends Participant {
  @OnEvent('PurchaseInitiated', HANDLER)
  onPurchaseInitiated(event: SagaEventEnvelope): Promise<void> {
    return this.advance(event, 'user_validation');
  }

  @OnEvent('CompensationInitiated', HANDLER)
  @OnEvent('CompensationCompleted', HANDLER)
  onCompensation(event: SagaEventEnvelope): Promise<void> {
    return this.undo(event, 'user_validation');
  }
}

@Injectable()
export class ItemParticipant extends Participant {
  @OnEvent('UserValidated', HANDLER)
  onUserValidated(event: SagaEventEnvelope): Promise<void> {
    return this.advance(event, 'item_grant');
  }

  @OnEvent('CompensationInitiated', HANDLER)
  @OnEvent('CompensationCompleted', HANDLER)
  onCompensation(event: SagaEventEnvelope): Promise<void> {
    return this.undo(event, 'item_grant');
  }
}

@Injectable()
export class LogParticipant extends Participant {
  @OnEvent('ItemGranted', HANDLER)
  onItemGranted(event: SagaEventEnvelope): Promise<void> {
    return this.advance(event, 'log_record');
  }

  @OnEvent('CompensationInitiated', HANDLER)
  @OnEvent('CompensationCompleted', HANDLER)
  onCompensation(event: SagaEventEnvelope): Promise<void> {
    return this.undo(event, 'log_record');
  }
}

@Injectable()
export class NotificationParticipant extends Participant {
  @OnEvent('LogRecorded', HANDLER)
  onLogRecorded(event: SagaEventEnvelope): Promise<void> {
    return this.advance(event, 'notification');
  }
}
