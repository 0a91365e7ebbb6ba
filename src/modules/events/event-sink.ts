import type { RelayedEvent } from './integration-event';

/** What a sink says about itself, for /health, /admin/relay and the metrics. */
export interface SinkStatus {
  name: string;
  /** Reachable and ready to take events. */
  connected: boolean;
  /** Why not, when it is not (never a URL or a secret). */
  reason?: string;
}

/**
 * Somewhere the relay hands the integration events to (NATS JetStream; webhooks next). The relay
 * claims, orders and marks the events; a sink only takes one event at a time, many in flight.
 */
export interface EventSink {
  readonly name: string;
  /** Starts connecting in the background; never throws (an unreachable sink waits). */
  start(): void;
  stop(): Promise<void>;
  status(): SinkStatus;
  /** Resolves once the sink holds the event durably (a duplicate counts); rejects otherwise. */
  publish(event: RelayedEvent): Promise<void>;
}

/** The sinks configured, in one token (see EventsModule). */
export const EVENT_SINKS = Symbol('EVENT_SINKS');
