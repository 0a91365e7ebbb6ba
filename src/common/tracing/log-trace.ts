import { trace } from '@opentelemetry/api';

/**
 * A pino mixin: the active span's `trace_id` and `span_id` on every log line written inside it,
 * so that logs and traces find each other.
 */
export function traceLogFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId } = span.spanContext();
  return trace.isSpanContextValid(span.spanContext()) ? { trace_id: traceId, span_id: spanId } : {};
}
