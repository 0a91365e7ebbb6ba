/**
 * The public integration events: what the service tells the outside about purchases, versioned
 * apart from the choreography's internal events (which may change with the saga's design). Each
 * type has a JSON Schema in schemas/events/ (version 1: fields may be added, never changed).
 */
export const INTEGRATION_EVENT_TYPES = [
  'purchase.completed',
  'purchase.compensated',
  'purchase.failed',
  'purchase.compensation_failed',
  'notification.requested',
] as const;
export type IntegrationEventType = (typeof INTEGRATION_EVENT_TYPES)[number];

export interface IntegrationEventError {
  step: string | null;
  code: string;
  message: string | null;
}

/** What an event says about its purchase (`data`). */
export interface IntegrationEventData {
  userId: string;
  itemId: string;
  quantity: number;
  /** The total charged (or that would have been), exact to the cent; null when never priced. */
  total: number | null;
  /** The saga's status once the change committed. */
  status: string;
  pattern: string;
  error?: IntegrationEventError;
  /** notification.requested only. */
  notificationId?: string;
  channels?: string[];
}

/** An event as it goes out: the JSON body of the message. */
export interface IntegrationEventBody {
  /** Unique per event, the same on every re-send (the broker's de-duplication key). */
  id: string;
  type: IntegrationEventType;
  /** When the change committed (ISO 8601). */
  occurredAt: string;
  transactionId: string;
  data: IntegrationEventData;
}

/** An event as the relay holds it: its body, its place in order and its trace. */
export interface RelayedEvent {
  /** Order of writing (a saga's events go out in it). */
  seq: string;
  body: IntegrationEventBody;
  /** The W3C traceparent of the saga, when it was traced. */
  traceParent: string | null;
}

/** The subject a type is published on. */
export function subjectOf(type: IntegrationEventType): string {
  return `saga.${type}`;
}

/** An integration event's row as read to be sent (see EVENT_COLUMNS). */
export interface EventRow {
  seq: string;
  id: string;
  type: IntegrationEventType;
  transaction_id: string;
  occurred_at: Date;
  data: IntegrationEventBody['data'];
  trace_parent: string | null;
}

/** The columns an EventRow is read from (`e`: integration_events). */
export const EVENT_COLUMNS = `e.seq::text AS seq, e.id, e.type, e.transaction_id, e.occurred_at,
  e.data, e.trace_parent`;

/** An event as the sinks send it: the one shape of its body, for JetStream and the webhooks. */
export function relayedEvent(row: EventRow): RelayedEvent {
  return {
    seq: row.seq,
    traceParent: row.trace_parent,
    body: {
      id: row.id,
      type: row.type,
      occurredAt: row.occurred_at.toISOString(),
      transactionId: row.transaction_id,
      data: row.data,
    },
  };
}

/** Where a stream reader stands: the last event it took, in (transaction, seq) order. */
export interface StreamCursor {
  tx: string;
  seq: string;
}

/** An event of the stream, with its place in it. */
export interface StreamEvent {
  cursor: StreamCursor;
  event: RelayedEvent;
}
