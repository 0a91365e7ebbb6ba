import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/** The finished spans of one trace, by name, for asserting on. */
export class TraceView {
  constructor(readonly spans: readonly ReadableSpan[]) {}

  named(name: string): ReadableSpan[] {
    return this.spans.filter((span) => span.name === name);
  }

  one(name: string): ReadableSpan {
    const found = this.named(name);
    if (found.length !== 1) {
      throw new Error(
        `Expected one span ${name}, found ${found.length} among: ${this.spans.map((s) => s.name).join(', ')}`,
      );
    }
    return found[0];
  }

  /** The span whose id is `spanId`, if it is in this trace. */
  byId(spanId: string | undefined): ReadableSpan | undefined {
    return this.spans.find((span) => span.spanContext().spanId === spanId);
  }

  parentOf(span: ReadableSpan): ReadableSpan | undefined {
    return this.byId(span.parentSpanContext?.spanId);
  }

  /** Whether `span` descends from `ancestor` within this trace. */
  descendsFrom(span: ReadableSpan, ancestor: ReadableSpan): boolean {
    for (let at = this.parentOf(span); at !== undefined; at = this.parentOf(at)) {
      if (at === ancestor) return true;
    }
    return false;
  }
}

export function traceOf(spans: readonly ReadableSpan[], traceId: string): TraceView {
  return new TraceView(spans.filter((span) => span.spanContext().traceId === traceId));
}
