import { Client } from 'pg';
import { startOtlpReceiver, type ExportedSpan, type OtlpReceiver } from './support/otlp-receiver';
import { startService } from './support/service-process';
import { createTestDatabase, type TestDatabase } from './support/test-app';
import { eventually } from './support/wait';

/** Short leases and polls, so that recovery takes over within a second or two. */
const FAST_RECOVERY = {
  SAGA_LEASE_MS: '1000',
  RECOVERY_POLL_MS: '200',
  OUTBOX_LEASE_MS: '1000',
  OUTBOX_POLL_MS: '200',
  STEP_RETRY_BASE_MS: '1',
  STEP_RETRY_MAX_MS: '5',
};
const POTION = { userId: 'user-123', itemId: 'item-potion', quantity: 1 };
const PG = '@opentelemetry/instrumentation-pg';
const IOREDIS = '@opentelemetry/instrumentation-ioredis';
const SERVER_KIND = 2;

/** The service exporting to `receiver` as an operator would switch it on. */
function tracingTo(receiver: OtlpReceiver): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'saga-under-test',
    // Exported within a moment, not the default 5 s.
    OTEL_BSP_SCHEDULE_DELAY: '50',
    NOTIFICATION_FAILURE_RATE: '0',
    ...(process.env.REDIS_URL === undefined ? {} : { REDIS_URL: process.env.REDIS_URL }),
  };
}

async function withClient<T>(url: string, work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** The spans received for the saga `transactionId`'s trace, once `lastSpan` of it is among them. */
function traceOnceExported(
  receiver: OtlpReceiver,
  traceId: string,
  lastSpan: (span: ExportedSpan) => boolean,
  what: string,
): Promise<ExportedSpan[]> {
  return eventually(
    () => {
      const spans = receiver.spans().filter((span) => span.traceId === traceId);
      return Promise.resolve(spans.some(lastSpan) ? spans : undefined);
    },
    20_000,
    what,
  );
}

let receiver: OtlpReceiver;
let database: TestDatabase;

beforeEach(async () => {
  receiver = await startOtlpReceiver();
  database = await createTestDatabase();
});

afterEach(async () => {
  await receiver.close();
  await database.drop();
});

describe('Tracing in a real process, exported over OTLP/HTTP', () => {
  it('exports the purchase trace with the HTTP server span and pg and ioredis spans without their parameters; logs name the trace', async () => {
    const service = await startService(database.url, { ...tracingTo(receiver), LOG_LEVEL: 'info' });
    try {
      const answer = await service.http
        .post('/purchase')
        .send({ ...POTION, pattern: 'orchestration' })
        .expect(200);
      const transactionId = (answer.body as { transactionId: string }).transactionId;
      const view = await service.http.get(`/saga/${transactionId}`).expect(200);
      const traceId = (view.body as { saga: { traceId: string } }).saga.traceId;
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);

      const trace = await traceOnceExported(
        receiver,
        traceId,
        (span) => span.name === 'saga.step notification',
        'the purchase trace to be exported',
      );
      expect(new Set(trace.map((span) => span.serviceName))).toEqual(new Set(['saga-under-test']));
      const byId = new Map(trace.map((span) => [span.spanId, span]));
      const parentName = (span: ExportedSpan) => byId.get(span.parentSpanId ?? '')?.name;

      // The HTTP server span is the trace's root.
      const [root, ...others] = trace.filter((span) => span.parentSpanId === undefined);
      expect(others).toEqual([]);
      expect(root).toMatchObject({ name: 'POST /purchase', kind: SERVER_KIND });
      // Fastify's request and Nest's handler, without a span per framework hook.
      expect(trace.map((span) => span.name)).toEqual(
        expect.arrayContaining(['request', 'handler - PurchaseController.purchase']),
      );
      expect(trace.filter((span) => /^on[A-Z]/.test(span.name))).toEqual([]);

      // The saga's spans, with pg's client spans under the batches' transactions.
      for (const step of ['user_validation', 'item_grant', 'log_record', 'notification']) {
        expect(trace.filter((span) => span.name === `saga.step ${step}`)).toHaveLength(1);
      }
      const pg = trace.filter((span) => span.scope === PG);
      const pgParents = new Set(pg.map(parentName));
      expect(pgParents).toContain('saga.record_batch');
      expect(pgParents).toContain('saga.step_batch');
      expect(pg.some((span) => span.attributes['db.query.text'] === 'COMMIT')).toBe(true);

      // No query parameter, nor a command's arguments, is recorded: the saga's own values
      // appear in no client span.
      const clients = receiver
        .spans()
        .filter((span) => span.scope === PG || span.scope === IOREDIS);
      const recorded = JSON.stringify(clients.map((span) => span.attributes));
      expect(recorded).not.toContain(transactionId);
      expect(recorded).not.toContain('user-123');
      expect(recorded).not.toContain('item-potion');
      expect(Object.keys(Object.assign({}, ...pg.map((span) => span.attributes)))).not.toContain(
        'db.postgresql.values',
      );
      if (process.env.REDIS_URL !== undefined) {
        const redis = receiver.spans().filter((span) => span.scope === IOREDIS);
        expect(redis.length).toBeGreaterThan(0);
        expect(redis.some((span) => span.traceId === traceId)).toBe(true);
      }

      // A log line written inside the request names its trace.
      const logged = service
        .output()
        .split('\n')
        .filter((line) => line.includes('"request completed"') && line.includes('"/purchase"'));
      expect(logged.length).toBeGreaterThan(0);
      expect(logged[0]).toContain(`"trace_id":"${traceId}"`);
      expect(logged[0]).toMatch(/"span_id":"[0-9a-f]{16}"/);
    } finally {
      await service.kill('SIGTERM');
    }
  });

  it.each(['orchestration', 'choreography'])(
    '%s: a saga whose process was killed after item_grant is finished by the next one in its trace',
    async (pattern) => {
      const env = { ...tracingTo(receiver), ...FAST_RECOVERY, SAGA_PATTERN_MODE: pattern };
      const doomed = await startService(database.url, {
        ...env,
        SAGA_FAULTS: 'crash-after:item_grant',
      });
      const answer = doomed.http
        .post('/purchase')
        .send(POTION)
        .then(
          () => 'answered',
          () => 'connection lost',
        );
      expect((await doomed.exited).signal).toBe('SIGKILL');
      expect(await answer).toBe('connection lost');

      const saga = await withClient(database.url, async (db) => {
        const rows = await db.query<{ transaction_id: string; trace_parent: string | null }>(
          'SELECT transaction_id, trace_parent FROM saga_states',
        );
        return rows.rows[0];
      });
      expect(saga.trace_parent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      const traceId = (saga.trace_parent ?? '').split('-')[1];

      const revived = await startService(database.url, env);
      try {
        const trace = await traceOnceExported(
          receiver,
          traceId,
          (span) =>
            span.name === 'saga.step notification' && span.attributes['saga.outcome'] === 'done',
          'the recovered saga to finish in its trace',
        );
        for (const step of ['log_record', 'notification']) {
          const spans = trace.filter((span) => span.name === `saga.step ${step}`);
          expect(spans.length).toBeGreaterThan(0);
          expect(spans[0].attributes).toMatchObject({
            'saga.transaction_id': saga.transaction_id,
            'saga.pattern': pattern,
          });
        }
        if (pattern === 'choreography') {
          // The event the killed process wrote and never published goes out from the next one,
          // in the trace it was written in.
          await traceOnceExported(
            receiver,
            traceId,
            (span) =>
              span.name === 'process ItemGranted' &&
              span.attributes['messaging.outbox.redelivered'] === true,
            'the outbox sweep to publish the event left behind',
          );
        }
        const view = await revived.http.get(`/saga/${saga.transaction_id}`).expect(200);
        expect(view.body).toMatchObject({ saga: { status: 'completed', traceId } });
      } finally {
        await revived.kill('SIGTERM');
      }
    },
  );

  it('exports nothing, stores no trace and logs no trace ids when the SDK is disabled', async () => {
    const service = await startService(database.url, {
      ...tracingTo(receiver),
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'info',
    });
    try {
      const answer = await service.http
        .post('/purchase')
        .send({ ...POTION, pattern: 'choreography' })
        .expect(200);
      const transactionId = (answer.body as { transactionId: string }).transactionId;
      const view = await service.http.get(`/saga/${transactionId}`).expect(200);
      expect(view.body).toMatchObject({ saga: { status: 'completed' } });
      expect((view.body as { saga: object }).saga).not.toHaveProperty('traceId');
      const stored = await withClient(database.url, (db) =>
        db.query<{ trace_parent: string | null }>(
          'SELECT trace_parent FROM saga_states WHERE transaction_id = $1',
          [transactionId],
        ),
      );
      expect(stored.rows[0].trace_parent).toBeNull();
    } finally {
      // A clean stop flushes whatever an SDK would hold.
      await service.kill('SIGTERM');
    }
    expect(receiver.requests()).toBe(0);
    expect(service.output()).toContain('"request completed"');
    expect(service.output()).not.toContain('trace_id');
  });
});
