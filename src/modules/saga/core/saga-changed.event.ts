import type { SagaPattern } from '../../../config/configuration';
import type { StepKind } from './saga-step-result.entity';
import { isTerminal, type SagaStatus } from './saga';

/**
 * Emitted in-process (EventEmitter2, awaited) after every committed change of a saga: its
 * creation and each transition. Observers only (cache, metrics): a listener must not throw, and
 * nothing of the saga is ever decided here.
 */
export const SAGA_CHANGED = 'saga.changed';

export interface SagaChangedEvent {
  transactionId: string;
  pattern: SagaPattern;
  /** null on creation */
  previousStatus: SagaStatus | null;
  status: SagaStatus;
  /** The saga row's version after the change (0 on creation). */
  version: number;
  /** The step or compensation that caused the change, if any. */
  step: string | null;
  kind: StepKind | null;
  outcome: 'success' | 'failed' | null;
  durationMs: number | null;
  /** Milliseconds since the saga was created, for sagas reaching a terminal status. */
  sagaAgeMs: number | null;
  at: Date;
  /** Set when only its notification's delivery changed: the notification's new revision. */
  notificationRevision?: number;
}

/** What changed a saga: the step or compensation whose transaction committed. */
export interface SagaChangeCause {
  step: string;
  kind: StepKind;
  outcome: 'success' | 'failed';
  durationMs: number;
}

/** The one way a SagaChangedEvent is made: from the saga as it stands after the change. */
export function sagaChanged(
  saga: {
    context: { transactionId: string; pattern: SagaPattern };
    status: SagaStatus;
    version: number;
    startedAt: Date;
  },
  previousStatus: SagaStatus | null,
  cause: SagaChangeCause | null,
  at: Date = new Date(),
): SagaChangedEvent {
  return {
    transactionId: saga.context.transactionId,
    pattern: saga.context.pattern,
    previousStatus,
    status: saga.status,
    version: saga.version,
    step: cause?.step ?? null,
    kind: cause?.kind ?? null,
    outcome: cause?.outcome ?? null,
    durationMs: cause?.durationMs ?? null,
    sagaAgeMs: isTerminal(saga.status) ? at.getTime() - saga.startedAt.getTime() : null,
    at,
  };
}

/**
 * The change of a completed saga whose notification's delivery state moved (its row version
 * stays; the notification's revision moved): only its view changed, so the cache drops what it
 * held.
 */
export function notificationDeliveryChanged(
  saga: { transactionId: string; pattern: SagaPattern; version: number; revision: number },
  at: Date = new Date(),
): SagaChangedEvent {
  return {
    transactionId: saga.transactionId,
    pattern: saga.pattern,
    previousStatus: 'completed',
    status: 'completed',
    version: saga.version,
    step: null,
    kind: null,
    outcome: null,
    durationMs: null,
    sagaAgeMs: null,
    at,
    notificationRevision: saga.revision,
  };
}

/**
 * Emitted (synchronously) once every observer of a terminal SAGA_CHANGED has run, the cache's
 * version floor included: what a request waiting for a saga's outcome waits for, so that nobody
 * is answered before the cache knows that outcome.
 */
export const SAGA_SETTLED = 'saga.settled';

/** Emitted when recovery takes over a saga whose driver's lease expired. */
export const SAGA_RECOVERED = 'saga.recovered';
export interface SagaRecoveredEvent {
  transactionId: string;
  pattern: SagaPattern;
}

/** Emitted after each outbox sweep with the number of events not yet dispatched. */
export const OUTBOX_BACKLOG = 'outbox.backlog';
export interface OutboxBacklogEvent {
  pending: number;
}
