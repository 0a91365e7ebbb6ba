import { Logger } from '@nestjs/common';
import { SagaMetrics } from '../src/modules/monitoring/metrics/saga-metrics';
import { ADMIN, setConnectable, startTestApp, TestApp } from './support/test-app';

type Samples = Map<string, number>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.e+-]+|[Nn]a[Nn]|\+Inf|-Inf)$/;

/**
 * Parses the Prometheus text format strictly (values as Go's ParseFloat reads them, so NaN in any
 * case); every sample keyed by `name{labels}`.
 */
function parseMetrics(text: string): { samples: Samples; types: Map<string, string> } {
  const samples: Samples = new Map();
  const types = new Map<string, string>();
  const helped = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const name = line.split(' ')[2];
      expect(name).toMatch(METRIC_NAME);
      helped.add(name);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(helped.has(name)).toBe(true);
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      expect(types.has(name)).toBe(false);
      types.set(name, type);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`Not a Prometheus sample line: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return { samples, types };
}

async function scrape(t: TestApp): Promise<Samples> {
  const res = await t.http.get('/metrics').expect(200);
  return parseMetrics(res.text).samples;
}

function value(samples: Samples, key: string): number {
  const found = samples.get(key);
  if (found === undefined) throw new Error(`No sample ${key}`);
  return found;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Never happened: ${what}`);
}

const buy = (t: TestApp, body: Record<string, unknown>) => t.http.post('/purchase').send(body);

describe('GET /metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ SAGA_PATTERN_MODE: 'orchestration' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('is Prometheus text with HELP and TYPE lines, without the admin token', async () => {
    const res = await t.http.get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseMetrics(res.text);
    expect(types.get('saga_started_total')).toBe('counter');
    expect(types.get('saga_finished_total')).toBe('counter');
    expect(types.get('saga_step_duration_seconds')).toBe('histogram');
    expect(types.get('saga_duration_seconds')).toBe('histogram');
    expect(types.get('http_request_duration_seconds')).toBe('histogram');
    expect(types.get('saga_recovery_claims_total')).toBe('counter');
    expect(types.get('saga_outbox_backlog')).toBe('gauge');
    // Default Node process metrics.
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    expect(value(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // Every pattern and terminal status is there before its first saga.
    for (const pattern of ['orchestration', 'choreography']) {
      expect(samples.has(`saga_started_total{pattern="${pattern}"}`)).toBe(true);
      for (const status of ['completed', 'compensated', 'failed']) {
        expect(samples.has(`saga_finished_total{pattern="${pattern}",status="${status}"}`)).toBe(
          true,
        );
      }
    }
  });

  it('counts sagas started and finished, and step and compensation durations', async () => {
    const before = await scrape(t);
    const at = (samples: Samples, key: string) => samples.get(key) ?? 0;

    await buy(t, { userId: 'user-123', itemId: 'item-sword', quantity: 1 }).expect(200);
    await buy(t, { userId: 'user-123', itemId: 'item-potion', quantity: 2 }).expect(200);
    await buy(t, { userId: 'user-456', itemId: 'item-sword', quantity: 1 }).expect(409);
    await buy(t, { userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 }).expect(409);
    // Refused before it starts (price check): recorded as started and failed at once.
    await buy(t, { userId: 'user-123', itemId: 'item-sword', quantity: 1, price: 1 }).expect(409);
    // Invalid input creates no saga.
    await buy(t, { userId: 'user-123', itemId: 'item-sword', quantity: 0 }).expect(400);

    const after = await scrape(t);
    const delta = (key: string) => at(after, key) - at(before, key);
    expect(delta('saga_started_total{pattern="orchestration"}')).toBe(5);
    expect(delta('saga_started_total{pattern="choreography"}')).toBe(0);
    expect(delta('saga_finished_total{pattern="orchestration",status="completed"}')).toBe(2);
    expect(delta('saga_finished_total{pattern="orchestration",status="failed"}')).toBe(2);
    expect(delta('saga_finished_total{pattern="orchestration",status="compensated"}')).toBe(1);
    expect(delta('saga_duration_seconds_count{pattern="orchestration",status="completed"}')).toBe(
      2,
    );

    const step = (name: string, kind: string, outcome: string) =>
      delta(`saga_step_duration_seconds_count{step="${name}",kind="${kind}",outcome="${outcome}"}`);
    // Two purchases and the out-of-stock one got past user_validation; user-456 did not.
    expect(step('user_validation', 'forward', 'success')).toBe(3);
    expect(step('user_validation', 'forward', 'failed')).toBe(1);
    expect(step('item_grant', 'forward', 'success')).toBe(2);
    expect(step('item_grant', 'forward', 'failed')).toBe(1);
    expect(step('notification', 'forward', 'success')).toBe(2);
    expect(step('user_validation', 'compensation', 'success')).toBe(1);
  });

  it('times HTTP requests by route pattern and status, errors included', async () => {
    const ok = await buy(t, { userId: 'user-123', itemId: 'item-potion', quantity: 1 }).expect(200);
    const id: string = ok.body.transactionId;
    await t.http.get(`/saga/${id}`).expect(200);
    await t.http.get('/saga/TXN_unknown').expect(404);
    await t.http.get('/admin/statistics').expect(401);
    await t.http.get('/admin/sagas?page=abc').set(ADMIN).expect(400);
    await t.http.get('/no/such/route/here').expect(404);

    const res = await t.http.get('/metrics').expect(200);
    const samples = parseMetrics(res.text).samples;
    const count = (method: string, route: string, status: number) =>
      samples.get(
        `http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`,
      ) ?? 0;
    expect(count('GET', '/saga/:transactionId', 200)).toBeGreaterThanOrEqual(1);
    expect(count('GET', '/saga/:transactionId', 404)).toBeGreaterThanOrEqual(1);
    expect(count('POST', '/purchase', 200)).toBeGreaterThanOrEqual(1);
    expect(count('GET', '/admin/statistics', 401)).toBeGreaterThanOrEqual(1);
    expect(count('GET', '/admin/sagas', 400)).toBeGreaterThanOrEqual(1);
    expect(count('GET', 'unmatched', 404)).toBeGreaterThanOrEqual(1);
    // Raw URLs never become labels.
    expect(res.text).not.toContain(id);
    expect(res.text).not.toContain('TXN_unknown');
    expect(res.text).not.toContain('/no/such/route');
  });

  it('exposes recovery claims and the outbox backlog through SagaMetrics', async () => {
    const before = await scrape(t);
    const metrics = t.app.get(SagaMetrics);
    metrics.recoveryClaimed('choreography');
    metrics.recoveryClaimed('choreography');
    metrics.setOutboxBacklog(7);
    const after = await scrape(t);
    expect(
      value(after, 'saga_recovery_claims_total{pattern="choreography"}') -
        value(before, 'saga_recovery_claims_total{pattern="choreography"}'),
    ).toBe(2);
    expect(value(after, 'saga_outbox_backlog')).toBe(7);
    metrics.setOutboxBacklog(0);
  });

  it("exports the DB monitor's snapshot as gauges", async () => {
    const snapshot = (await t.http.get('/admin/db-metrics').set(ADMIN).expect(200)).body.snapshot;
    const samples = await scrape(t);
    expect(value(samples, 'saga_db_connections{state="active"}')).toBeGreaterThanOrEqual(1);
    expect(value(samples, 'saga_db_pool_connections{kind="total"}')).toBeGreaterThanOrEqual(1);
    expect(samples.has('saga_db_pool_connections{kind="waiting"}')).toBe(true);
    expect(value(samples, 'saga_db_table_size_bytes{table="users",part="table"}')).toBeGreaterThan(
      0,
    );
    expect(
      value(
        samples,
        'saga_db_index_size_bytes{table="saga_states",index="idx_saga_states_created_at"}',
      ),
    ).toBeGreaterThan(0);
    expect(value(samples, 'saga_db_stat_statements_available')).toBe(
      snapshot.slowQueries.available ? 1 : 0,
    );
    expect(value(samples, 'saga_db_monitor_last_success_timestamp_seconds')).toBeCloseTo(
      Date.parse(snapshot.takenAt) / 1000,
      2,
    );
  });

  it('serves a second application in the same process without registering a metric twice', async () => {
    const second = await startTestApp();
    try {
      const res = await second.http.get('/metrics').expect(200);
      const { types } = parseMetrics(res.text);
      expect(types.get('saga_started_total')).toBe('counter');
      await buy(second, { userId: 'user-123', itemId: 'item-sword', quantity: 1 }).expect(200);
      await t.http.get('/metrics').expect(200);
    } finally {
      await second.close();
    }
  });
});

describe('DB monitor failures', () => {
  let t: TestApp;
  let warn: jest.SpyInstance;

  beforeAll(async () => {
    // Every second, so that a run happens while the database is cut off.
    t = await startTestApp({ MONITOR_CRON: '* * * * * *' });
  });

  afterAll(async () => {
    warn?.mockRestore();
    await setConnectable(t.databaseUrl, true);
    await t.close();
  });

  it('are logged and counted, and never affect requests', async () => {
    const first = await t.http.get('/admin/db-metrics').set(ADMIN).expect(200);
    expect(first.body.snapshot).not.toBeNull();
    const failures = async () => value(await scrape(t), 'saga_db_monitor_failures_total');
    const failuresBefore = await failures();
    warn = jest.spyOn(Logger.prototype, 'warn');

    await setConnectable(t.databaseUrl, false);
    await eventually(async () => (await failures()) > failuresBefore, 'a failed monitor run');
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('DB monitor snapshot failed'));

    // Requests that need no database still answer, and the last good snapshot stays readable.
    await t.http.get('/metrics').expect(200);
    const during = await t.http.get('/admin/db-metrics').set(ADMIN).expect(200);
    expect(during.body.snapshot).not.toBeNull();
    expect(during.body.lastFailure.message).toEqual(expect.any(String));

    await setConnectable(t.databaseUrl, true);
    await eventually(
      async () => (await t.http.get('/items')).status === 200,
      'the database answering again',
    );
    await buy(t, { userId: 'user-123', itemId: 'item-sword', quantity: 1 }).expect(200);
    const takenBefore = Date.parse(during.body.snapshot.takenAt);
    await eventually(async () => {
      const res = await t.http.get('/admin/db-metrics').set(ADMIN).expect(200);
      return Date.parse(res.body.snapshot.takenAt) > takenBefore;
    }, 'a new snapshot once the database is back');
  });
});
