import type { Transition } from '../core/transition';
import {
  remainingToCompensate,
  sagaRecord,
  type SagaContext,
  type SagaRecord,
  type StepData,
  type StepName,
} from '../core/saga';

/** The choreography's events, as the contract names them. */
export const SAGA_EVENTS = [
  'PurchaseInitiated',
  'UserValidated',
  'ItemGranted',
  'LogRecorded',
  'NotificationSent',
  'PurchaseCompleted',
  'UserValidationFailed',
  'ItemGrantFailed',
  'LogFailed',
  'CompensationInitiated',
  'CompensationCompleted',
  'CompensationFailed',
  'PurchaseFailed',
] as const;
export type SagaEventType = (typeof SAGA_EVENTS)[number];

/** The saga as the event saw it: enough for the next participant to act without a read. */
export interface SagaSnapshot {
  context: SagaContext;
  version: number;
  status: SagaRecord['status'];
  startedAt: string;
  completed: StepName[];
  compensated: StepName[];
}

export interface SagaEventEnvelope {
  eventId: string;
  eventType: SagaEventType;
  transactionId: string;
  /** The event whose handling raised this one (null for PurchaseInitiated). */
  causationId: string | null;
  occurredAt: string;
  saga: SagaSnapshot;
  data: StepData;
  /**
   * The trace context of what raised the event (W3C traceparent), with tracing on: its
   * publishing continues that trace, in whatever process publishes it.
   */
  traceparent?: string;
}

/**
 * An event as the outbox stores it: what it adds to its row's columns (its id, type and saga id)
 * and to its saga's own row (the purchase and its start, which never change after it is
 * recorded). The saga's version, status and steps are kept as the event saw them: they fence
 * the participant that handles it.
 */
export interface StoredSagaEvent {
  causationId: string | null;
  occurredAt: string;
  saga: Omit<SagaSnapshot, 'context' | 'startedAt'>;
  data: StepData;
  /** Written with the event, in its transaction, when tracing is on. */
  traceparent?: string;
}

export function storedEventOf(event: SagaEventEnvelope): StoredSagaEvent {
  const { version, status, completed, compensated } = event.saga;
  const stored: StoredSagaEvent = {
    causationId: event.causationId,
    occurredAt: event.occurredAt,
    saga: { version, status, completed, compensated },
    data: event.data,
  };
  if (event.traceparent !== undefined) stored.traceparent = event.traceparent;
  return stored;
}

/**
 * The event back whole from its outbox row and its saga's row; undefined when its saga has no row
 * and the payload holds no copy of the purchase (a saga deleted by hand). Rows written before
 * events were stored this way carry the whole event: what they hold serves where the saga's row
 * does not.
 */
export function eventFromStored(
  row: { event_id: string; event_type: string; aggregate_id: string },
  stored: StoredSagaEvent & { saga: Partial<SagaSnapshot> },
  saga: { context: SagaContext; startedAt: Date } | undefined,
): SagaEventEnvelope | undefined {
  const context = saga?.context ?? stored.saga.context;
  const startedAt = saga?.startedAt.toISOString() ?? stored.saga.startedAt;
  if (context === undefined || startedAt === undefined) return undefined;
  const event: SagaEventEnvelope = {
    eventId: row.event_id,
    eventType: row.event_type as SagaEventType,
    transactionId: row.aggregate_id,
    causationId: stored.causationId,
    occurredAt: stored.occurredAt,
    saga: { ...stored.saga, context, startedAt },
    data: stored.data,
  };
  if (stored.traceparent !== undefined) event.traceparent = stored.traceparent;
  return event;
}

/** Which event each forward step reacts to. */
export const TRIGGER_OF: Record<StepName, SagaEventType> = {
  user_validation: 'PurchaseInitiated',
  item_grant: 'UserValidated',
  log_record: 'ItemGranted',
  notification: 'LogRecorded',
};

const DONE_EVENT: Record<StepName, SagaEventType> = {
  user_validation: 'UserValidated',
  item_grant: 'ItemGranted',
  log_record: 'LogRecorded',
  notification: 'NotificationSent',
};

const FAILED_EVENT: Record<StepName, SagaEventType> = {
  user_validation: 'UserValidationFailed',
  item_grant: 'ItemGrantFailed',
  log_record: 'LogFailed',
  // Past the pivot a failing notification completes the purchase anyway (NotificationSent, sent: false).
  notification: 'NotificationSent',
};

export function snapshotOf(saga: SagaRecord): SagaSnapshot {
  return {
    context: saga.context,
    version: saga.version,
    status: saga.status,
    startedAt: saga.startedAt.toISOString(),
    completed: [...saga.completed],
    compensated: [...saga.compensated],
  };
}

export function recordOf(snapshot: SagaSnapshot): SagaRecord {
  return sagaRecord({
    context: snapshot.context,
    status: snapshot.status,
    version: snapshot.version,
    startedAt: new Date(snapshot.startedAt),
    completed: [...snapshot.completed],
    compensated: [...snapshot.compensated],
    error: null,
  });
}

/**
 * The events a committed transition raises: the one place that maps saga progress to the
 * choreography's vocabulary.
 */
export function eventsFor(transition: Transition): { type: SagaEventType; data: StepData }[] {
  const { saga, step, kind, outcome, status, data, error } = transition;
  const errorData = error === null ? {} : { error };
  if (kind === 'forward' && outcome === 'success') {
    const done = { type: DONE_EVENT[step], data: { step, ...data } };
    return status === 'completed' ? [done, { type: 'PurchaseCompleted', data: {} }] : [done];
  }
  if (kind === 'forward') {
    const failed = {
      type: FAILED_EVENT[step],
      data: {
        step,
        ...(step === 'notification' ? { sent: false } : {}),
        ...errorData,
        ...(data ?? {}),
      },
    };
    if (status === 'completed') return [failed, { type: 'PurchaseCompleted', data: {} }];
    if (status === 'compensating') {
      return [
        failed,
        {
          type: 'CompensationInitiated',
          data: { remaining: remainingToCompensate(saga), ...errorData },
        },
      ];
    }
    return [failed, { type: 'PurchaseFailed', data: errorData }];
  }
  if (outcome === 'failed') {
    return [
      { type: 'CompensationFailed', data: { step, ...errorData } },
      { type: 'PurchaseFailed', data: errorData },
    ];
  }
  const compensated = {
    type: 'CompensationCompleted' as const,
    data: { step, remaining: remainingToCompensate(saga), ...data },
  };
  return status === 'compensated'
    ? [compensated, { type: 'PurchaseFailed', data: {} }]
    : [compensated];
}

/** An event as the API shows it: what it carried, and whether it was handled. */
export interface SagaEventView {
  eventId: string;
  eventType: string;
  causationId: string | null;
  occurredAt: string;
  dispatched: boolean;
  data: Record<string, unknown>;
}

/** An outbox row as the history reads it: the stored event and whether it was handled. */
export interface StoredEventRow {
  event_id: string;
  event_type: string;
  dispatched: boolean;
  payload: Pick<StoredSagaEvent, 'causationId' | 'occurredAt' | 'data'>;
}

export function toEventView(row: StoredEventRow): SagaEventView {
  return {
    eventId: row.event_id,
    eventType: row.event_type,
    causationId: row.payload.causationId,
    occurredAt: row.payload.occurredAt,
    dispatched: row.dispatched,
    data: row.payload.data,
  };
}
