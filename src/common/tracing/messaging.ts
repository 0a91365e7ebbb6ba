import { ROOT_CONTEXT, SpanKind, trace, type Context } from '@opentelemetry/api';
import { inSpan, spanContextOf, tracer } from './tracer';

/** A message being handed to its consumers, for its spans. */
export interface TracedMessage {
  /** `messaging.system`. */
  system: string;
  /** `messaging.destination.name`: what consumers subscribe to. */
  destination: string;
  /** `messaging.message.id`. */
  id: string;
  /** The context it was written in (W3C traceparent), stored with it. */
  traceParent: string;
  /** Delivered again after its first publisher died or gave up. */
  redelivered: boolean;
}

/**
 * Delivers a message in the OpenTelemetry messaging conventions' spans: `publish <destination>`
 * (producer) in the trace it was written in (a restarted process continues it), and inside it
 * `process <destination>` (consumer), active while `deliver` runs its consumers.
 */
export function inMessageSpans<T>(message: TracedMessage, deliver: () => Promise<T>): Promise<T> {
  const stored = spanContextOf(message.traceParent);
  const parent: Context =
    stored === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, stored);
  const publish = tracer.startSpan(
    `publish ${message.destination}`,
    { kind: SpanKind.PRODUCER },
    parent,
  );
  if (!publish.isRecording()) return inSpan(publish, deliver);
  const attributes = {
    'messaging.system': message.system,
    'messaging.destination.name': message.destination,
    'messaging.message.id': message.id,
    'messaging.outbox.redelivered': message.redelivered,
  };
  publish.setAttributes({
    ...attributes,
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'publish',
  });
  const process = tracer.startSpan(
    `process ${message.destination}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...attributes,
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
      },
    },
    trace.setSpan(parent, publish),
  );
  return inSpan(publish, () => inSpan(process, deliver));
}
