import {
  context,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';

/**
 * The service's own spans. Without a registered tracer provider (tracing off) every call here
 * goes to the API's no-op tracer: spans that record nothing, and no attributes are built for them.
 */
export const tracer = trace.getTracer('purchase-saga-service');

const TRACE_PARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A span's context as a W3C `traceparent`; null when it has none (a no-op span). */
export function traceParentOf(span: Span | undefined): string | null {
  if (span === undefined) return null;
  const spanContext = span.spanContext();
  // The no-op span's (tracing off) is this very object: no need to check its ids.
  if (spanContext === INVALID_SPAN_CONTEXT || !trace.isSpanContextValid(spanContext)) return null;
  const { traceId, spanId, traceFlags } = spanContext;
  return `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`;
}

/** The span context a stored `traceparent` names; undefined when absent or malformed. */
export function spanContextOf(traceParent: string | null | undefined): SpanContext | undefined {
  if (traceParent === null || traceParent === undefined) return undefined;
  const match = TRACE_PARENT.exec(traceParent);
  if (match === null) return undefined;
  const spanContext: SpanContext = {
    traceId: match[1],
    spanId: match[2],
    traceFlags: Number.parseInt(match[3], 16),
    isRemote: true,
  };
  return trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** The active span, when it records. */
export function recordingSpan(): Span | undefined {
  const span = trace.getActiveSpan();
  return span?.isRecording() === true ? span : undefined;
}

/** The `traceparent` of the active span, when it records. */
export function activeTraceParent(): string | null {
  return traceParentOf(recordingSpan());
}

/**
 * Starts the span of a unit of work that belongs to a stored trace (`traceParent`, W3C): a child
 * of the active span when that one records in the same trace (or there is no stored trace), else
 * a child of the stored context (a trace that crosses processes and restarts), linked to the
 * active span of another trace (an admin's request that re-drives a saga). With tracing off the
 * span is the no-op tracer's.
 */
export function startSpanInTrace(
  name: string,
  traceParent: string | null | undefined,
  kind: SpanKind = SpanKind.INTERNAL,
): Span {
  const active = recordingSpan();
  const stored = spanContextOf(traceParent);
  if (stored === undefined || active?.spanContext().traceId === stored.traceId) {
    return tracer.startSpan(name, { kind });
  }
  const links: Link[] = active === undefined ? [] : [{ context: active.spanContext() }];
  return tracer.startSpan(name, { kind, links }, trace.setSpanContext(ROOT_CONTEXT, stored));
}

/**
 * The `traceparent` to write with what a unit of work of the stored trace `traceParent` raises:
 * the active span's when it records in that trace (or there is none stored), else the stored one.
 */
export function traceParentFor(traceParent: string | undefined): string | undefined {
  const active = recordingSpan();
  if (active === undefined) return traceParent;
  const stored = spanContextOf(traceParent);
  if (stored !== undefined && active.spanContext().traceId !== stored.traceId) return traceParent;
  return traceParentOf(active) ?? traceParent;
}

/** Ends a span for an error that escaped its work. */
export function endWithError(span: Span, error: unknown): void {
  if (span.isRecording()) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * Runs `work` inside `span` (active for it, when it records), ending the span when it settles.
 * A span that records nothing is not made active: with tracing off this costs no context.
 */
export function inSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  // Ending a span that records nothing does nothing: the work runs as it is.
  if (!span.isRecording()) return work();
  return inRecordingSpan(span, work);
}

async function inRecordingSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    const result = await context.with(trace.setSpan(context.active(), span), work);
    span.end();
    return result;
  } catch (error) {
    endWithError(span, error);
    throw error;
  }
}

/**
 * Runs a batch's work (one transaction serving many traces) in a span of its own, when any of
 * its members' spans records: a child of the first such member, linked from every member (span
 * links: the batch belongs to no single trace) and linking back to them. Without a recording
 * member it just runs the work.
 */
export function inBatchSpan<T>(
  name: string,
  members: readonly (Span | undefined)[],
  attributes: Attributes,
  work: () => Promise<T>,
): Promise<T> {
  const recording = members.filter((member): member is Span => member?.isRecording() === true);
  if (recording.length === 0) return work();
  const [first, ...others] = recording;
  const links: Link[] = others.map((member) => ({ context: member.spanContext() }));
  const batch = tracer.startSpan(
    name,
    { kind: SpanKind.INTERNAL, attributes, links },
    trace.setSpan(context.active(), first),
  );
  const link: Link = { context: batch.spanContext() };
  for (const member of recording) member.addLink(link);
  return inSpan(batch, work);
}

let stop: (() => Promise<void>) | undefined;

/**
 * Set by the SDK's start (src/tracing.ts) with how to stop it, cleared by its stop: whether spans
 * may be recorded at all.
 */
export function setTracingStop(shutdown: (() => Promise<void>) | undefined): void {
  stop = shutdown;
}

export function tracingStarted(): boolean {
  return stop !== undefined;
}

/** Exports the spans still buffered and stops the SDK, if it was started (on shutdown). */
export function stopTracing(): Promise<void> {
  return stop?.() ?? Promise.resolve();
}
