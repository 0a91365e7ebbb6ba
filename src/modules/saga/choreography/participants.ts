import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { isTerminal, type StepName } from '../core/saga';
import { StepRunner } from '../core/step-runner';
import { SagaSteps } from '../core/steps/saga-steps';
import { ChoreographyEngine } from './choreography.engine';
import { recordOf, SagaEventEnvelope } from './saga-events';

const HANDLER = { suppressErrors: false } as const;

/**
 * A participant of the choreography: it reacts to the event that precedes its step by running
 * that step (the same object the orchestrator calls, through the same runner), and to
 * compensation events naming its step by undoing it. Events seen twice, or for sagas of the
 * other pattern, change nothing.
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
    const move = await this.runner.advance(
      saga,
      this.steps.get(name),
      this.choreography.raise(event.eventId),
    );
    // Stale: another handler already moved the saga on (a duplicate or late event).
    if (move.kind === 'moved') move.afterCommit();
  }

  protected async undo(event: SagaEventEnvelope, name: StepName): Promise<void> {
    const remaining = event.data.remaining as StepName[] | undefined;
    if (remaining?.[0] !== name) return;
    const saga = recordOf(event.saga);
    if (saga.context.pattern !== 'choreography' || saga.compensated.includes(name)) return;
    const move = await this.runner.undo(
      saga,
      this.steps.get(name),
      this.choreography.raise(event.eventId),
    );
    if (move.kind === 'moved') move.afterCommit();
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
