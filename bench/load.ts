import autocannon from 'autocannon';
import { Agent, request } from 'node:http';
import type { CpuUsage } from './cpu';

export type Pattern = 'orchestration' | 'choreography';

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** One scenario's figures: one row of the table, and one entry of the results file. */
export interface ScenarioRow {
  scenario: string;
  description: string;
  durationS: number;
  connections: number;
  /** Answers received (any status). */
  requests: number;
  requestsPerS: number;
  /** 200 answers whose saga status is `completed`; null for reads. */
  completed: number | null;
  completedPerS: number | null;
  latencyMs: Latency;
  /** Answers per HTTP status. */
  statuses: Record<string, number>;
  /** Answers other than 2xx per `status errorCode` of their body. */
  errorCodes?: Record<string, number>;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  invariants?: 'PASS' | 'FAIL' | 'not checked';
  cpu?: CpuUsage;
}

const REQUEST_TIMEOUT_S = 10;

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

export function latencyOf(samples: number[]): Latency {
  const values = Array.from(Float64Array.from(samples).sort());
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  return {
    p50: round(percentile(values, 0.5)),
    p95: round(percentile(values, 0.95)),
    p99: round(percentile(values, 0.99)),
    max: round(values.at(-1) ?? 0),
  };
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

/** The saga id and status of a purchase answer, or nothing if the body is not one. */
export function purchaseOutcome(body: string): {
  transactionId?: string;
  status?: string;
  errorCode?: string;
} {
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : undefined;
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    return {
      transactionId: text(parsed.transactionId),
      status: text(parsed.status),
      errorCode: text(parsed.errorCode),
    };
  } catch {
    return {};
  }
}

function countError(codes: Record<string, number>, status: number, errorCode?: string): void {
  if (status >= 200 && status < 300) return;
  const key = `${status} ${errorCode ?? '?'}`;
  codes[key] = (codes[key] ?? 0) + 1;
}

interface LoadSpec {
  url: string;
  durationS: number;
  connections: number;
  request: autocannon.Request;
  /** Requests per second across all connections; unset: as fast as answers come. */
  rate?: number;
}

/** Runs autocannon, recording every answer's status and latency itself (p95 included). */
async function runAutocannon(
  spec: LoadSpec,
): Promise<{ result: autocannon.Result; statuses: Record<string, number>; latencies: number[] }> {
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationS,
        timeout: REQUEST_TIMEOUT_S,
        requests: [spec.request],
        ...(spec.rate === undefined ? {} : { overallRate: spec.rate }),
      },
      (error: unknown, done: autocannon.Result) => {
        if (error instanceof Error) reject(error);
        else if (error !== null && error !== undefined) {
          reject(new Error(`autocannon failed: ${JSON.stringify(error)}`));
        } else resolve(done);
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      latencies.push(responseTime);
    });
  });
  return { result, statuses, latencies };
}

function row(
  scenario: string,
  description: string,
  spec: LoadSpec,
  run: Awaited<ReturnType<typeof runAutocannon>>,
  completed: number | null,
): ScenarioRow {
  const seconds = run.result.duration > 0 ? run.result.duration : spec.durationS;
  return {
    scenario,
    description,
    durationS: round1(seconds),
    connections: spec.connections,
    requests: run.latencies.length,
    requestsPerS: round1(run.latencies.length / seconds),
    completed,
    completedPerS: completed === null ? null : round1(completed / seconds),
    latencyMs: latencyOf(run.latencies),
    statuses: run.statuses,
    errors: run.result.errors,
    timeouts: run.result.timeouts,
  };
}

const pick = <T>(values: T[]): T => values[Math.floor(Math.random() * values.length)];

export interface PurchaseLoad {
  scenario: string;
  description: string;
  url: string;
  durationS: number;
  connections: number;
  /** mixed: each request one of the two, at random. */
  pattern: Pattern | 'mixed';
  userIds: string[];
  itemIds: string[];
  /** Receives the saga id of every answer that carried one. */
  onSaga: (transactionId: string) => void;
  /** Purchases sent per second; unset: as fast as answers come. */
  rate?: number;
}

/** `POST /purchase` for `durationS`, each request a random user buying one of `itemIds`. */
export async function purchaseLoad(load: PurchaseLoad): Promise<ScenarioRow> {
  let completed = 0;
  const errorCodes: Record<string, number> = {};
  const spec: LoadSpec = {
    url: load.url,
    durationS: load.durationS,
    connections: load.connections,
    rate: load.rate,
    request: {
      method: 'POST',
      path: '/purchase',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => ({
        ...req,
        body: JSON.stringify({
          userId: pick(load.userIds),
          itemId: pick(load.itemIds),
          quantity: 1,
          pattern:
            load.pattern === 'mixed'
              ? pick<Pattern>(['orchestration', 'choreography'])
              : load.pattern,
        }),
      }),
      onResponse: (status, body) => {
        const outcome = purchaseOutcome(body);
        if (outcome.transactionId !== undefined) load.onSaga(outcome.transactionId);
        if (status === 200 && outcome.status === 'completed') completed++;
        countError(errorCodes, status, outcome.errorCode);
      },
    },
  };
  const run = await runAutocannon(spec);
  return { ...row(load.scenario, load.description, spec, run, completed), errorCodes };
}

/** `GET /saga/:id` for `durationS`, each request a random one of `ids`. */
export async function sagaReadLoad(
  url: string,
  ids: string[],
  durationS: number,
  connections: number,
  rate?: number,
): Promise<ScenarioRow> {
  const spec: LoadSpec = {
    url,
    durationS,
    connections,
    rate,
    request: {
      method: 'GET',
      setupRequest: (req) => ({ ...req, path: `/saga/${encodeURIComponent(pick(ids))}` }),
    },
  };
  const run = await runAutocannon(spec);
  return row('5 GET /saga/:id', `GET /saga/:id over ${ids.length} existing sagas`, spec, run, null);
}

/** `GET path` for `durationS` over `connections`, headers as given (none: an anonymous client). */
export async function getLoad(
  scenario: string,
  url: string,
  path: string,
  durationS: number,
  connections: number,
  headers: Record<string, string> = {},
): Promise<ScenarioRow> {
  const spec: LoadSpec = {
    url,
    durationS,
    connections,
    request: { method: 'GET', path, headers },
  };
  const run = await runAutocannon(spec);
  return row(scenario, `GET ${path} at ${connections} connections`, spec, run, null);
}

/** Reads every id once, so the timed read run measures a warm cache. */
export async function warmSagaReads(url: string, ids: string[], connections: number) {
  let next = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++];
      await send(agent, url, 'GET', `/saga/${encodeURIComponent(id)}`, undefined, 30_000);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  agent.destroy();
}

interface Answer {
  status: number | null;
  body: string;
  ms: number;
  error?: string;
}

function send(
  agent: Agent,
  base: string,
  method: 'GET' | 'POST',
  path: string,
  body: string | undefined,
  timeoutMs: number,
): Promise<Answer> {
  const began = performance.now();
  return new Promise((resolve) => {
    const req = request(
      `${base}${path}`,
      {
        method,
        agent,
        headers:
          body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? null, body: text, ms: performance.now() - began }),
        );
        res.on('error', (error) =>
          resolve({ status: null, body: '', ms: performance.now() - began, error: error.message }),
        );
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (error) =>
      resolve({ status: null, body: '', ms: performance.now() - began, error: error.message }),
    );
    req.end(body);
  });
}

export interface BurstRow extends ScenarioRow {
  /** From the first request sent to the last answer received. */
  totalMs: number;
  errorMessages: Record<string, number>;
  /** What became of the sagas the burst started, whatever their HTTP answer said. */
  sagaOutcomes?: Record<string, number>;
}

/**
 * Sends `users × perUser` purchases at once, each on its own connection, and waits for every
 * answer (or failure).
 */
export async function purchaseBurst(
  url: string,
  userIds: string[],
  itemIds: string[],
  perUser: number,
  onSaga: (transactionId: string) => void,
): Promise<BurstRow> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const bodies = userIds.flatMap((userId) =>
    Array.from({ length: perUser }, () =>
      JSON.stringify({ userId, itemId: pick(itemIds), quantity: 1, pattern: 'orchestration' }),
    ),
  );
  const began = performance.now();
  const answers = await Promise.all(
    bodies.map((body) => send(agent, url, 'POST', '/purchase', body, REQUEST_TIMEOUT_S * 3000)),
  );
  const totalMs = performance.now() - began;
  agent.destroy();

  const statuses: Record<string, number> = {};
  const errorMessages: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  let completed = 0;
  for (const answer of answers) {
    if (answer.status === null) {
      const message = answer.error ?? 'unknown';
      errorMessages[message] = (errorMessages[message] ?? 0) + 1;
      continue;
    }
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    const outcome = purchaseOutcome(answer.body);
    if (outcome.transactionId !== undefined) onSaga(outcome.transactionId);
    if (answer.status === 200 && outcome.status === 'completed') completed++;
    countError(errorCodes, answer.status, outcome.errorCode);
  }
  const answered = answers.filter((a) => a.status !== null);
  const seconds = totalMs / 1000;
  return {
    scenario: '4 burst',
    description: `${bodies.length} purchases at once (${userIds.length} users × ${perUser}), orchestration`,
    durationS: round1(seconds),
    connections: bodies.length,
    requests: answered.length,
    requestsPerS: round1(answered.length / seconds),
    completed,
    completedPerS: round1(completed / seconds),
    latencyMs: latencyOf(answered.map((a) => a.ms)),
    statuses,
    errorCodes,
    errors: answers.length - answered.length,
    timeouts: errorMessages.timeout ?? 0,
    totalMs: Math.round(totalMs),
    errorMessages,
  };
}
