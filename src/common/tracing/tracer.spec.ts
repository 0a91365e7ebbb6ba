import { trace, TraceFlags } from '@opentelemetry/api';
import {
  activeTraceParent,
  inBatchSpan,
  inSpan,
  startSpanInTrace,
  traceParentFor,
  spanContextOf,
  traceParentOf,
  tracer,
} from './tracer';
import { traceLogFields } from './log-trace';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

describe('trace context helpers, with no tracer provider (tracing off)', () => {
  it('reads a W3C traceparent and writes one back', () => {
    const stored = `00-${TRACE_ID}-${SPAN_ID}-01`;
    const context = spanContextOf(stored);
    expect(context).toEqual({
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    expect(traceParentOf(trace.wrapSpanContext(context!))).toBe(stored);
  });

  it('takes no malformed or invalid traceparent', () => {
    for (const bad of [
      null,
      undefined,
      '',
      'garbage',
      `01-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
    ]) {
      expect(spanContextOf(bad)).toBeUndefined();
    }
  });

  it('records nothing, and names no trace, when tracing is off', async () => {
    const span = tracer.startSpan('anything');
    expect(span.isRecording()).toBe(false);
    expect(traceParentOf(span)).toBeNull();
    expect(traceParentOf(undefined)).toBeNull();
    expect(activeTraceParent()).toBeNull();
    expect(traceLogFields()).toEqual({});
    await expect(inSpan(span, () => Promise.resolve(7))).resolves.toBe(7);
    await expect(
      inBatchSpan('batch', [span, undefined], {}, () => Promise.resolve('ran')),
    ).resolves.toBe('ran');
    await expect(inSpan(span, () => Promise.reject(new Error('no')))).rejects.toThrow('no');
  });

  it('starts the work of a stored trace in that trace', () => {
    const stored = `00-${TRACE_ID}-${SPAN_ID}-01`;
    const span = startSpanInTrace('step', stored);
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).toBe(TRACE_ID);
    expect(traceParentOf(startSpanInTrace('step', undefined))).toBeNull();
    expect(traceParentFor(stored)).toBe(stored);
    expect(traceParentFor(undefined)).toBeUndefined();
  });
});
