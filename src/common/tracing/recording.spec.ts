import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { inMessageSpans } from './messaging';
import {
  activeTraceParent,
  inBatchSpan,
  endWithError,
  inSpan,
  startSpanInTrace,
  tracer,
  traceParentFor,
  traceParentOf,
} from './tracer';
import { traceLogFields } from './log-trace';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
});

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

beforeEach(() => exporter.reset());

describe('spans, with a tracer provider', () => {
  it('a batch serving sagas of several traces is one span: a child of the first, linked from each and linking back', async () => {
    const members = [tracer.startSpan('a'), tracer.startSpan('b'), tracer.startSpan('c')];
    const traces = new Set(members.map((member) => member.spanContext().traceId));
    expect(traces.size).toBe(3);
    const seen = await inBatchSpan('batch', [undefined, ...members], { size: 3 }, () =>
      Promise.resolve(activeTraceParent()),
    );
    members.forEach((member) => member.end());

    const [batch] = exporter.getFinishedSpans().filter((span) => span.name === 'batch');
    expect(batch.attributes).toEqual({ size: 3 });
    expect(batch.parentSpanContext?.spanId).toBe(members[0].spanContext().spanId);
    expect(batch.links.map((link) => link.context.spanId)).toEqual(
      members.slice(1).map((member) => member.spanContext().spanId),
    );
    // The batch was the active span for its work.
    expect(seen).toBe(traceParentOf(trace.wrapSpanContext(batch.spanContext())));
    for (const name of ['a', 'b', 'c']) {
      const [member] = exporter.getFinishedSpans().filter((span) => span.name === name);
      expect(member.links.map((link) => link.context.spanId)).toEqual([batch.spanContext().spanId]);
    }
  });

  it('a batch span that fails records the error and ends', async () => {
    const member = tracer.startSpan('member');
    await expect(
      inBatchSpan('batch', [member], {}, () => Promise.reject(new Error('rolled back'))),
    ).rejects.toThrow('rolled back');
    member.end();
    const [batch] = exporter.getFinishedSpans().filter((span) => span.name === 'batch');
    expect(batch.status.code).toBe(2);
    expect(batch.events.map((event) => event.name)).toEqual(['exception']);
  });

  it('a message is published and processed in the trace it was written in', async () => {
    const writer = tracer.startSpan('writer');
    const traceParent = traceParentOf(writer) ?? '';
    writer.end();
    const fields = await inMessageSpans(
      { system: 'outbox', destination: 'Happened', id: 'e1', traceParent, redelivered: true },
      () => Promise.resolve(traceLogFields()),
    );
    const spans = exporter.getFinishedSpans();
    const publish = spans.find((span) => span.name === 'publish Happened');
    const process = spans.find((span) => span.name === 'process Happened');
    expect(publish?.kind).toBe(SpanKind.PRODUCER);
    expect(publish?.parentSpanContext?.spanId).toBe(writer.spanContext().spanId);
    expect(publish?.spanContext().traceId).toBe(writer.spanContext().traceId);
    expect(process?.kind).toBe(SpanKind.CONSUMER);
    expect(process?.parentSpanContext?.spanId).toBe(publish?.spanContext().spanId);
    expect(process?.attributes).toMatchObject({
      'messaging.system': 'outbox',
      'messaging.destination.name': 'Happened',
      'messaging.message.id': 'e1',
      'messaging.operation.type': 'process',
      'messaging.outbox.redelivered': true,
    });
    // What the consumers log names the process span.
    expect(fields).toEqual({
      trace_id: writer.spanContext().traceId,
      span_id: process?.spanContext().spanId,
    });
  });

  it("a saga's work joins its stored trace: under the caller in that trace, else under the stored context, linked to a caller of another trace", async () => {
    const saga = tracer.startSpan('saga');
    const stored = traceParentOf(saga) ?? '';
    saga.end();

    // Recovery: nothing active.
    const recovered = startSpanInTrace('recovered', stored);
    expect(recovered.spanContext().traceId).toBe(saga.spanContext().traceId);
    recovered.end();

    // A caller in the saga's trace (a request, an event's processing).
    const caller = startSpanInTrace('caller', stored);
    const [child, raised] = await inSpan(caller, () =>
      Promise.resolve([startSpanInTrace('child', stored), traceParentFor(stored)] as const),
    );
    child.end();
    expect(raised).toBe(traceParentOf(caller));

    // An admin's request, in a trace of its own.
    const admin = tracer.startSpan('admin');
    const [redriven, written] = await inSpan(admin, () =>
      Promise.resolve([startSpanInTrace('redriven', stored), traceParentFor(stored)] as const),
    );
    redriven.end();
    expect(written).toBe(stored);

    const spans = exporter.getFinishedSpans();
    const find = (name: string) => spans.find((span) => span.name === name);
    expect(find('recovered')?.parentSpanContext?.spanId).toBe(saga.spanContext().spanId);
    expect(find('child')?.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(find('redriven')?.parentSpanContext?.spanId).toBe(saga.spanContext().spanId);
    expect(find('redriven')?.links.map((link) => link.context.spanId)).toEqual([
      admin.spanContext().spanId,
    ]);
  });

  it('a message with no usable trace context starts a trace of its own; one of an unsampled trace records nothing', async () => {
    const message = { system: 'outbox', destination: 'Lost', id: 'e2', redelivered: false };
    const traced = await inMessageSpans({ ...message, traceParent: 'garbage' }, () =>
      Promise.resolve(activeTraceParent()),
    );
    expect(traced).not.toBeNull();
    const unsampled = await inMessageSpans(
      { ...message, traceParent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' },
      () => Promise.resolve(activeTraceParent()),
    );
    expect(unsampled).toBeNull();
    const spans = exporter.getFinishedSpans().map((span) => span.name);
    expect(spans).toEqual(['process Lost', 'publish Lost']);
  });

  it('what a span with no stored trace raises continues the active span; an error escaping a span marks it', async () => {
    const active = tracer.startSpan('active');
    const raised = await inSpan(active, () => Promise.resolve(traceParentFor(undefined)));
    expect(raised).toBe(traceParentOf(active));
    const failed = tracer.startSpan('failed');
    endWithError(failed, 'not an Error');
    const [span] = exporter.getFinishedSpans().filter((one) => one.name === 'failed');
    expect(span.status.code).toBe(2);
  });
});
