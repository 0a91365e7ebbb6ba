import { Injectable } from '@nestjs/common';
import { timeOrderedId } from '../../../common/time-ordered-id';
import type { HookedTransition, TransitionHook } from '../core/transition';
import type { SagaRecord } from '../core/saga';
import { OutboxDispatcher } from './outbox-dispatcher';
import { OutboxRepository, OutboxRow, PendingEvent } from './outbox.repository';
import {
  eventsFor,
  remainingToCompensate,
  SagaEventEnvelope,
  SagaEventType,
  snapshotOf,
  TRIGGER_OF,
} from './saga-events';
import { STEP_NAMES, type StepData } from '../core/saga';

/**
 * A choreography handler's hook: it writes the events its saga's transitions raise, and holds
 * the rows of the last transaction that wrote them, to publish once it has committed.
 */
export class OutboxHook implements TransitionHook {
  committed: PendingEvent[] = [];

  constructor(
    readonly write: TransitionHook['write'],
    readonly causationId: string | null,
  ) {}
}

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

  /** Writes PurchaseInitiated for sagas being recorded, in their transaction; rows per saga. */
  initiate(sagas: readonly SagaRecord[]): Promise<PendingEvent[][]> {
    return this.insert(
      sagas.map((saga) => this.envelopes(saga, null, [{ type: 'PurchaseInitiated', data: {} }])),
    );
  }

  /** A hook writing the events a saga's transitions raise, caused by `causationId`. */
  hook(causationId: string | null): OutboxHook {
    return new OutboxHook(this.writeTransitions, causationId);
  }

  /** Asks the participants to undo `remaining` (admin re-drive), in the caller's transaction. */
  requestCompensation(saga: SagaRecord, remaining: string[]): Promise<PendingEvent[]> {
    return this.write(saga, null, [{ type: 'CompensationInitiated', data: { remaining } }]);
  }

  /**
   * Re-raises, for a saga taken over by recovery, the event its next participant reacts to (its
   * older events carry a stale version and are ignored).
   */
  resume(saga: SagaRecord): Promise<PendingEvent[]> {
    if (saga.status === 'compensating') {
      return this.requestCompensation(saga, remainingToCompensate(saga));
    }
    const next = STEP_NAMES[saga.completed.length];
    if (next === undefined) return Promise.resolve([]);
    return this.write(saga, null, [{ type: TRIGGER_OF[next], data: { recovered: true } }]);
  }

  publish(rows: PendingEvent[]): void {
    this.dispatcher.publishSoon(rows);
  }

  events(transactionId: string): Promise<OutboxRow[]> {
    return this.outbox.listByAggregate(transactionId);
  }

  /** The events of transitions committing together, in one insert. */
  private readonly writeTransitions = async (
    hooked: readonly HookedTransition[],
  ): Promise<void> => {
    const hooks = hooked.map(({ hook }) => (hook instanceof OutboxHook ? hook : undefined));
    const rows = await this.insert(
      hooked.map(({ transition }, index) =>
        this.envelopes(transition.saga, hooks[index]?.causationId ?? null, eventsFor(transition)),
      ),
    );
    hooks.forEach((hook, index) => {
      if (hook !== undefined) hook.committed = rows[index];
    });
  };

  private async write(
    saga: SagaRecord,
    causationId: string | null,
    events: { type: SagaEventType; data: StepData }[],
  ): Promise<PendingEvent[]> {
    const [rows] = await this.insert([this.envelopes(saga, causationId, events)]);
    return rows;
  }

  /** Groups of events in one insert; answers, per group, its events as written. */
  private async insert(groups: SagaEventEnvelope[][]): Promise<PendingEvent[][]> {
    const rows = await this.outbox.insert(
      groups.flat(),
      this.dispatcher.leaseOwner,
      this.dispatcher.leaseDurationMs,
    );
    let next = 0;
    return groups.map((group) => rows.slice(next, (next += group.length)));
  }

  private envelopes(
    saga: SagaRecord,
    causationId: string | null,
    events: { type: SagaEventType; data: StepData }[],
  ): SagaEventEnvelope[] {
    const occurredAt = new Date().toISOString();
    return events.map((event) => ({
      eventId: timeOrderedId(),
      eventType: event.type,
      transactionId: saga.context.transactionId,
      causationId,
      occurredAt,
      saga: snapshotOf(saga),
      data: event.data,
    }));
  }
}
