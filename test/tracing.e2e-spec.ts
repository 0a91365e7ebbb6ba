// First: tracing must be on before the application's modules are loaded.
import { exporter, tracing } from './support/in-memory-tracing';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { startTestApp, type TestApp } from './support/test-app';
import { traceOf, type TraceView } from './support/spans';
import { eventually } from './support/wait';

const STEPS = ['user_validation', 'item_grant', 'log_record', 'notification'];
const POTION = { userId: 'user-123', itemId: 'item-potion', quantity: 1 };
const OUT_OF_STOCK = { userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 };

interface Answer {
  transactionId: string;
  status: string;
  error?: { code: string };
}

let t: TestApp;
/** Its notifications fail every attempt. */
let failing: TestApp;

beforeAll(async () => {
  t = await startTestApp({ NOTIFICATION_FAILURE_RATE: '0' });
  failing = await startTestApp({
    SAGA_FAULTS: 'fail:notification',
    STEP_MAX_ATTEMPTS: '3',
    STEP_RETRY_BASE_MS: '1',
    STEP_RETRY_MAX_MS: '2',
  });
});

afterAll(async () => {
  await t.close();
  await failing.close();
  await tracing.shutdown();
});

/** Buys, and answers the saga's id, its trace id (from GET /saga/:id) and its finished trace. */
async function purchase(
  body: object,
  pattern: 'orchestration' | 'choreography',
  lastSpan: string,
  app: TestApp = t,
): Promise<{ transactionId: string; traceId: string; trace: TraceView; answer: Answer }> {
  const answer = await app.http.post('/purchase').send({ ...body, pattern });
  expect([200, 409]).toContain(answer.status);
  const answered = answer.body as Answer;
  const transactionId = answered.transactionId;
  const view = await app.http.get(`/saga/${transactionId}`).expect(200);
  const traceId: string = view.body.saga.traceId;
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  // The answer may leave before the spans of the saga's last moves have ended.
  const trace = await eventually(
    () => {
      const found = traceOf(exporter.getFinishedSpans(), traceId);
      return Promise.resolve(found.named(lastSpan).length > 0 ? found : undefined);
    },
    10_000,
    `span ${lastSpan} of saga ${transactionId}`,
  );
  return { transactionId, traceId, trace, answer: answered };
}

function attributes(span: ReadableSpan): Record<string, unknown> {
  return { ...span.attributes };
}

/** The batch span a step span links to; it must be one of the exported spans. */
function linkedBatch(span: ReadableSpan, name: string): ReadableSpan {
  const ids = span.links.map((link) => link.context.spanId);
  const batch = exporter
    .getFinishedSpans()
    .find((candidate) => candidate.name === name && ids.includes(candidate.spanContext().spanId));
  if (batch === undefined) throw new Error(`${span.name} links to no ${name} span`);
  return batch;
}

describe('Tracing, with an in-memory exporter', () => {
  it('an orchestrated purchase is one trace: the request, the recording, a span per step, each linked to its step batch', async () => {
    const { transactionId, traceId, trace } = await purchase(
      POTION,
      'orchestration',
      'saga.step notification',
    );

    const server = trace.spans.find((span) => span.kind === SpanKind.SERVER);
    expect(server).toBeDefined();
    expect(attributes(server!)).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/purchase',
    });

    const record = trace.one('saga.record');
    expect(attributes(record)).toMatchObject({
      'saga.transaction_id': transactionId,
      'saga.pattern': 'orchestration',
    });
    expect(trace.descendsFrom(record, server!)).toBe(true);
    const recordBatch = linkedBatch(record, 'saga.record_batch');
    expect(recordBatch.attributes['saga.batch.size']).toBeGreaterThanOrEqual(1);

    for (const step of STEPS) {
      const span = trace.one(`saga.step ${step}`);
      expect(attributes(span)).toMatchObject({
        'saga.transaction_id': transactionId,
        'saga.pattern': 'orchestration',
        'saga.step': step,
        'saga.attempt': 1,
        'saga.outcome': 'done',
      });
      expect(trace.descendsFrom(span, server!)).toBe(true);
      const batch = linkedBatch(span, 'saga.step_batch');
      expect(batch.attributes['saga.batch.size']).toBeGreaterThanOrEqual(1);
      // The batch links back to the step spans it served, or is the child of the first.
      const served = [
        batch.parentSpanContext?.spanId,
        ...batch.links.map((link) => link.context.spanId),
      ];
      expect(served).toContain(span.spanContext().spanId);
    }
    expect(trace.spans.every((span) => span.spanContext().traceId === traceId)).toBe(true);
  });

  it('a refused step says so, and its compensation is a span of the same trace', async () => {
    const { answer, trace } = await purchase(
      OUT_OF_STOCK,
      'orchestration',
      'saga.compensation user_validation',
    );
    expect(answer.status).toBe('compensated');
    expect(attributes(trace.one('saga.step item_grant'))).toMatchObject({
      'saga.outcome': 'refused',
      'error.type': answer.error?.code,
    });
    expect(attributes(trace.one('saga.compensation user_validation'))).toMatchObject({
      'saga.step': 'user_validation',
      'saga.step.kind': 'compensation',
      'saga.outcome': 'done',
    });
  });

  it('a choreographed purchase is one trace: each outbox event published and processed in it, the next step inside', async () => {
    const { transactionId, trace } = await purchase(
      POTION,
      'choreography',
      'process PurchaseCompleted',
    );
    const events = ['PurchaseInitiated', 'UserValidated', 'ItemGranted', 'LogRecorded'];
    events.forEach((event, index) => {
      const publish = trace.named(`publish ${event}`);
      expect(publish.length).toBeGreaterThanOrEqual(1);
      expect(publish[0].kind).toBe(SpanKind.PRODUCER);
      const process = trace
        .named(`process ${event}`)
        .find((span) => trace.parentOf(span) === publish[0]);
      expect(process).toBeDefined();
      expect(process!.kind).toBe(SpanKind.CONSUMER);
      expect(attributes(process!)).toMatchObject({
        'messaging.system': 'saga-outbox',
        'messaging.operation.type': 'process',
        'messaging.destination.name': event,
      });
      // The participant's step runs inside the processing of the event that triggers it.
      const step = trace.one(`saga.step ${STEPS[index]}`);
      expect(attributes(step)).toMatchObject({
        'saga.transaction_id': transactionId,
        'saga.pattern': 'choreography',
        'saga.outcome': 'done',
      });
      expect(trace.parentOf(step)).toBe(process);
      linkedBatch(step, 'saga.step_batch');
    });
    // Each event the step raised is published in the trace of that step.
    const validated = trace.named('publish UserValidated')[0];
    expect(trace.descendsFrom(validated, trace.one('saga.step user_validation'))).toBe(true);
  });

  it('a step retried to the end shows every attempt, and gives up past the pivot', async () => {
    const { answer, trace } = await purchase(
      POTION,
      'orchestration',
      'saga.step notification',
      failing,
    );
    expect(answer.status).toBe('completed');
    const notification = trace.one('saga.step notification');
    expect(attributes(notification)).toMatchObject({
      'saga.attempt': 3,
      'saga.outcome': 'failed',
      'error.type': 'STEP_FAILED',
    });
    expect(
      notification.events
        .filter((event) => event.name === 'saga.attempt_failed')
        .map((event) => event.attributes?.['saga.attempt']),
    ).toEqual([1, 2, 3]);
  });
});
