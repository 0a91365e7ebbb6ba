import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { timeOrderedId } from '../../../common/time-ordered-id';
import { traceParentFor } from '../../../common/tracing/tracer';
import type { AppConfig } from '../../../config/configuration';
import {
  remainingToCompensate,
  STEP_NAMES,
  type SagaError,
  type SagaRecord,
  type StepData,
  type StepName,
} from '../core/saga';
import type { SagaEngine, StartSaga } from '../core/saga-engine';
import { SagaWaiters } from '../core/saga-waiters';
import { StepRunner } from '../core/step-runner';
import type { AfterCommit, Raise, RaisedTransition, TransitionWriter } from '../core/transition';
import { OutboxDispatcher } from './outbox-dispatcher';
import { OutboxRepository, OutboxRow, PendingEvent } from './outbox.repository';
import { eventsFor, SagaEventEnvelope, SagaEventType, snapshotOf, TRIGGER_OF } from './saga-events';

/**
 * The choreography pattern's engine: events go into the outbox inside the transaction of the
 * change that raises them, and out onto the bus after it commits; the participants react to
 * them. It is the pattern's TransitionWriter: the events a committed transition raises are
 * written with it (one insert for a whole step batch).
 */
@Injectable()
export class ChoreographyEngine implements SagaEngine, TransitionWriter {
  readonly pattern = 'choreography' as const;
  private readonly waitMs: number;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly dispatcher: OutboxDispatcher,
    private readonly runner: StepRunner,
    private readonly waiters: SagaWaiters,
    config: ConfigService<AppConfig, true>,
  ) {
    this.waitMs = config.get('saga', { infer: true }).purchaseWaitMs;
  }

  /** Writes PurchaseInitiated for sagas being recorded, in their transaction. */
  async initiate(sagas: readonly SagaRecord[]): Promise<StartSaga[]> {
    const written = await this.insert(
      sagas.map((saga) =>
        this.envelopes(
          saga,
          null,
          [{ type: 'PurchaseInitiated', data: {} }],
          saga.context.traceParent,
        ),
      ),
    );
    return sagas.map((saga, index) => (waitMs: number) => {
      // Nothing moves the saga before its first event is published.
      const settled = this.waiters.wait(saga.context.transactionId, waitMs, -1, false);
      this.dispatcher.publishSoon(written[index]);
      return settled;
    });
  }

  /**
   * Re-raises, for a saga taken over by recovery, the event its next participant reacts to (its
   * older events carry a stale version and are ignored).
   */
  async resume(saga: SagaRecord): Promise<void> {
    if (saga.status === 'compensating') {
      this.dispatcher.publishSoon(await this.requestCompensation(saga));
      return;
    }
    const next = STEP_NAMES[saga.completed.length];
    if (next === undefined) return;
    this.dispatcher.publishSoon(
      await this.writeEvents(saga, [{ type: TRIGGER_OF[next], data: { recovered: true } }]),
    );
  }

  /** Asks the participants to undo what the saga committed, and waits for them (up to the wait). */
  async compensate(saga: SagaRecord, reason: SagaError): Promise<'done' | 'stale'> {
    const from = saga.version;
    let afterCommit: AfterCommit;
    if (saga.status !== 'compensating' && saga.status !== 'failed') {
      const taken = await this.runner.takeOver(saga, reason, async (after) => {
        const rows = await this.requestCompensation(after);
        return () => this.dispatcher.publishSoon(rows);
      });
      if (taken.kind === 'stale') return 'stale';
      afterCommit = taken.afterCommit;
    } else {
      const rows = await this.requestCompensation(saga);
      afterCommit = () => this.dispatcher.publishSoon(rows);
    }
    const settled = this.waiters.wait(saga.context.transactionId, this.waitMs, from, false);
    afterCommit();
    await settled;
    return 'done';
  }

  drain(): Promise<void> {
    return this.dispatcher.drain();
  }

  /** How a participant handling event `cause` has the events of its saga's transitions written. */
  raise(cause: string): Raise {
    return { writer: this, cause };
  }

  /** The events of transitions committing together, in one insert. */
  async write(transitions: readonly RaisedTransition[]): Promise<AfterCommit[]> {
    const rows = await this.insert(
      transitions.map(({ transition, cause, traceParent }) =>
        this.envelopes(transition.saga, cause, eventsFor(transition), traceParent),
      ),
    );
    return rows.map((written) => () => this.dispatcher.publishSoon(written));
  }

  events(transactionId: string): Promise<OutboxRow[]> {
    return this.outbox.listByAggregate(transactionId);
  }

  /** CompensationInitiated for what the saga has left to undo, in the caller's transaction. */
  private requestCompensation(saga: SagaRecord): Promise<PendingEvent[]> {
    const remaining: StepName[] = remainingToCompensate(saga);
    return this.writeEvents(saga, [{ type: 'CompensationInitiated', data: { remaining } }]);
  }

  private async writeEvents(
    saga: SagaRecord,
    events: { type: SagaEventType; data: StepData }[],
  ): Promise<PendingEvent[]> {
    const traceParent = traceParentFor(saga.context.traceParent);
    const [rows] = await this.insert([this.envelopes(saga, null, events, traceParent)]);
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
    /** The trace their publishing continues, with tracing on. */
    traceParent: string | undefined,
  ): SagaEventEnvelope[] {
    const occurredAt = new Date().toISOString();
    return events.map((event) => {
      const envelope: SagaEventEnvelope = {
        eventId: timeOrderedId(),
        eventType: event.type,
        transactionId: saga.context.transactionId,
        causationId,
        occurredAt,
        saga: snapshotOf(saga),
        data: event.data,
      };
      if (traceParent !== undefined) envelope.traceparent = traceParent;
      return envelope;
    });
  }
}
