import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { TransitionHook } from '../engine/step-runner';
import type { SagaRecord } from '../saga.types';
import { OutboxDispatcher } from './outbox-dispatcher';
import { OutboxRepository, OutboxRow } from './outbox.repository';
import {
  eventsFor,
  remainingToCompensate,
  SagaEventEnvelope,
  SagaEventType,
  snapshotOf,
  TRIGGER_OF,
} from './saga-events';
import { STEP_NAMES, type StepData } from '../saga.types';

/**
 * The choreography pattern's plumbing: events go into the outbox inside the transaction of the
 * change that raises them, and out onto the bus after it commits. Who reacts to what lives in
 * the participants.
 */
@Injectable()
export class ChoreographyEngine {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly dispatcher: OutboxDispatcher,
  ) {}

  /** Writes PurchaseInitiated in the transaction that records the saga. */
  initiate(saga: SagaRecord): Promise<OutboxRow[]> {
    return this.write(saga, null, [{ type: 'PurchaseInitiated', data: {} }]);
  }

  /**
   * A transition hook writing the events the transition raises; `committed` ends up holding the
   * rows of the transition that committed, for `publish`.
   */
  hook(causationId: string | null, committed: OutboxRow[]): TransitionHook {
    return async (transition) => {
      committed.length = 0;
      committed.push(...(await this.write(transition.saga, causationId, eventsFor(transition))));
    };
  }

  /** Asks the participants to undo `remaining` (admin re-drive), in the caller's transaction. */
  requestCompensation(saga: SagaRecord, remaining: string[]): Promise<OutboxRow[]> {
    return this.write(saga, null, [{ type: 'CompensationInitiated', data: { remaining } }]);
  }

  /**
   * Re-raises, for a saga taken over by recovery, the event its next participant reacts to (its
   * older events carry a stale version and are ignored).
   */
  resume(saga: SagaRecord): Promise<OutboxRow[]> {
    if (saga.status === 'compensating') {
      return this.requestCompensation(saga, remainingToCompensate(saga));
    }
    const next = STEP_NAMES[saga.completed.length];
    if (next === undefined) return Promise.resolve([]);
    return this.write(saga, null, [{ type: TRIGGER_OF[next], data: { recovered: true } }]);
  }

  publish(rows: OutboxRow[]): void {
    this.dispatcher.publishSoon(rows);
  }

  events(transactionId: string): Promise<OutboxRow[]> {
    return this.outbox.listByAggregate(transactionId);
  }

  private write(
    saga: SagaRecord,
    causationId: string | null,
    events: { type: SagaEventType; data: StepData }[],
  ): Promise<OutboxRow[]> {
    const occurredAt = new Date().toISOString();
    const envelopes: SagaEventEnvelope[] = events.map((event) => ({
      eventId: randomUUID(),
      eventType: event.type,
      transactionId: saga.context.transactionId,
      causationId,
      occurredAt,
      saga: snapshotOf(saga),
      data: event.data,
    }));
    return this.outbox.insert(
      envelopes,
      this.dispatcher.leaseOwner,
      this.dispatcher.leaseDurationMs,
    );
  }
}
