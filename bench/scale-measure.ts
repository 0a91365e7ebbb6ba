import type { Client } from 'pg';
import { startCpuSample } from './cpu';
import { backendPids, databaseName } from './database';
import {
  getLoad,
  latencyOf,
  purchaseLoad,
  sagaReadLoad,
  type Latency,
  type Pattern,
  type ScenarioRow,
} from './load';
import { sampleSagaIds, type ScaleFixtures } from './scale-data';
import type { ScaleConfig } from './scale-config';
import { startService, type Service } from './service';

export interface RouteSpec {
  name: string;
  /** Called with the admin token. */
  admin: boolean;
  path: (fixtures: ScaleFixtures) => string;
}

const id = encodeURIComponent;

/** The routes timed at each size: a route added here is measured and tabled. */
export const ROUTES: readonly RouteSpec[] = [
  { name: 'GET /patterns/comparison', admin: false, path: () => '/patterns/comparison' },
  { name: 'GET /choreography/stats', admin: false, path: () => '/choreography/stats' },
  { name: 'GET /sagas/stats', admin: false, path: () => '/sagas/stats' },
  { name: 'GET /admin/statistics', admin: true, path: () => '/admin/statistics' },
  { name: 'GET /admin/sagas', admin: true, path: () => '/admin/sagas' },
  {
    name: 'GET /admin/sagas?itemId=<rare item>',
    admin: true,
    path: (f) => `/admin/sagas?itemId=${id(f.rareItemId)}`,
  },
  {
    name: 'GET /admin/sagas?itemId=<hot item>',
    admin: true,
    path: (f) => `/admin/sagas?itemId=${id(f.hotItemId)}`,
  },
  { name: 'GET /admin/sagas?status=failed', admin: true, path: () => '/admin/sagas?status=failed' },
  {
    name: 'GET /admin/sagas?userId=<a user>',
    admin: true,
    path: (f) => `/admin/sagas?userId=${id(f.userIds[0])}`,
  },
  // The full run first: its checkpoint is where the incremental runs after it start.
  { name: 'GET /admin/integrity?mode=full', admin: true, path: () => '/admin/integrity?mode=full' },
  { name: 'GET /admin/integrity (incremental)', admin: true, path: () => '/admin/integrity' },
];

/** The public statistics routes that anonymous callers hammer during a purchase run. */
export const HOSTILE_ROUTES: readonly string[] = [
  '/patterns/comparison',
  '/choreography/stats',
  '/sagas/stats',
];

const PATTERNS: readonly Pattern[] = ['orchestration', 'choreography'];

export interface RouteTiming {
  route: string;
  path: string;
  /** Over the timed calls that got an answer (any status); null when none did. */
  latencyMs: Latency | null;
  /** Timed calls per HTTP status, `timeout` or `error`. */
  statuses: Record<string, number>;
}

export interface HostileRun {
  pattern: Pattern;
  route: string;
  purchases: ScenarioRow;
  hostile: ScenarioRow;
  /** The same purchase run without them, just before (the machine's pace drifts over a size). */
  alone: ScenarioRow;
  /** completed/s and p95 with the hostile load ÷ without it (the run just before). */
  completedRatio: number | null;
  p95Ratio: number | null;
}

export interface ServiceMeasures {
  routes: RouteTiming[];
  purchases: ScenarioRow[];
  hostile: HostileRun[];
  coldReads?: ScenarioRow;
  /** One incremental integrity run over the traffic of the purchase runs (since the routes'). */
  integrityAfterLoad?: { ms: number; status: string; progress: unknown };
}

/**
 * The service as the scale bench runs it: the jobs measured on their own never fire in the
 * middle of a measurement; the per-client rate limit of the public routes is off unless asked
 * for (the purchase load comes from one address), and every RATE_LIMIT_* set here passes on.
 */
export function scaleServiceEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    RATE_LIMIT_PUBLIC: env.RATE_LIMIT_PUBLIC ?? 'off',
    VERIFY_CRON: 'off',
    RETENTION_CRON: 'off',
    // At scale, slow statements and requests refused for want of a connection are the findings,
    // counted by the bench: a log line each would flood its output.
    LOG_LEVEL: env.BENCH_SCALE_LOG_LEVEL ?? 'fatal',
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function call(
  url: string,
  token: string | undefined,
  timeoutMs: number,
): Promise<{ status: string; ms: number }> {
  const began = performance.now();
  try {
    const res = await fetch(url, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return { status: String(res.status), ms: performance.now() - began };
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    return { status: timedOut ? 'timeout' : 'error', ms: performance.now() - began };
  }
}

/**
 * Anonymous calls are spaced so that they stay within the default `reports` budget (10 a second):
 * a refusal would be held back (RATE_LIMIT_HOLD) and timed as the route's answer.
 */
const ANONYMOUS_SPACING_MS = 150;

/** Each route: one warm-up call, then `calls` sequential calls. */
export async function timeRoutes(
  service: Service,
  fixtures: ScaleFixtures,
  config: Pick<ScaleConfig, 'calls' | 'routeTimeoutS'>,
  log: (line: string) => void,
): Promise<RouteTiming[]> {
  const timings: RouteTiming[] = [];
  for (const route of ROUTES) {
    const path = route.path(fixtures);
    const token = route.admin ? service.adminToken : undefined;
    const timeoutMs = config.routeTimeoutS * 1000;
    await call(`${service.url}${path}`, token, timeoutMs);
    const statuses: Record<string, number> = {};
    const answered: number[] = [];
    for (let i = 0; i < config.calls; i++) {
      if (!route.admin) await sleep(ANONYMOUS_SPACING_MS);
      const { status, ms } = await call(`${service.url}${path}`, token, timeoutMs);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 'timeout' && status !== 'error') answered.push(ms);
    }
    const timing: RouteTiming = {
      route: route.name,
      path,
      latencyMs: answered.length === 0 ? null : latencyOf(answered),
      statuses,
    };
    timings.push(timing);
    log(
      `  ${route.name}: median ${timing.latencyMs?.p50 ?? '-'} ms, p95 ${timing.latencyMs?.p95 ?? '-'} ms, ` +
        `statuses ${JSON.stringify(statuses)}`,
    );
  }
  return timings;
}

/** Waits (up to `maxMs`) until the service has folded every rollup delta recorded so far. */
async function folded(db: Client, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const { rows } = await db.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM saga_count_deltas) + (SELECT count(*) FROM saga_ledger_deltas)
              + (SELECT count(*) FROM saga_finish_deltas) AS n`,
    );
    if (Number(rows[0].n) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Waits (up to `maxMs`) until no saga is open and no statement of the service is running: the
 * sagas of a run settled, and the long statements a hostile run left behind finished.
 */
async function settle(db: Client, name: string, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const { rows } = await db.query<{ open: string; active: string }>(
      `SELECT (SELECT count(*) FROM saga_states
               WHERE status IN ('pending', 'in_progress', 'compensating'))::text AS open,
              (SELECT count(*) FROM pg_stat_activity
               WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid())::text AS active`,
      [name],
    );
    if (rows[0].open === '0' && rows[0].active === '0') return;
    await sleep(250);
  }
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0
    ? null
    : Math.round((a / b) * 1000) / 1000;

/** Answers of a run by class: 2xx, 429, 5xx, other statuses, connection errors (timeouts). */
export function statusClasses(row: ScenarioRow): Record<string, number> {
  const classes: Record<string, number> = { '2xx': 0, '429': 0, '5xx': 0, other: 0 };
  for (const [status, n] of Object.entries(row.statuses)) {
    const code = Number(status);
    const key =
      code >= 200 && code < 300 ? '2xx' : code === 429 ? '429' : code >= 500 ? '5xx' : 'other';
    classes[key] += n;
  }
  return { ...classes, errors: row.errors, timeouts: row.timeouts };
}

function describe(row: ScenarioRow): string {
  if (row.requests === 0) {
    return `no answer within the run, errors ${row.errors} (timeouts ${row.timeouts})`;
  }
  return (
    `${row.completedPerS ?? row.requestsPerS}/s, p50/p95 ${row.latencyMs.p50}/${row.latencyMs.p95} ms, ` +
    `statuses ${JSON.stringify(row.statuses)}, errors ${row.errors} (timeouts ${row.timeouts})`
  );
}

/**
 * At one size: the routes, the purchase runs of each pattern alone, then with hostile callers on
 * each public statistics route (each after a run alone, its yardstick), then (on a service with its cache off) cold saga reads.
 */
export async function measureService(
  config: ScaleConfig,
  fixtures: ScaleFixtures,
  db: Client,
  log: (line: string) => void,
  onService: (service: Service | undefined) => void,
): Promise<ServiceMeasures> {
  const name = databaseName(config.databaseUrl);
  const env = scaleServiceEnv();
  const measures: ServiceMeasures = { routes: [], purchases: [], hostile: [] };
  const purchases = (url: string, pattern: Pattern, scenario: string) =>
    purchaseLoad({
      scenario,
      description: `POST /purchase, ${config.loadS} s at ${config.connections} connections`,
      url,
      durationS: config.loadS,
      connections: config.connections,
      pattern,
      userIds: fixtures.userIds,
      itemIds: fixtures.itemIds,
      onSaga: () => undefined,
    });

  let service = await startService(config.repoRoot, config.databaseUrl, config.redisUrl, env);
  onService(service);
  try {
    // What the growth recorded for the rollups is folded by the service's first passes.
    await folded(db, 300_000);
    // The service vacuums the tables its first fold emptied: measured once it is done.
    await settle(db, name, 300_000);
    log(`routes: a warm-up then ${config.calls} calls each`);
    measures.routes = await timeRoutes(service, fixtures, config, log);
    for (const pattern of PATTERNS) {
      await settle(db, name, 30_000);
      const sample = startCpuSample(service.pid, await backendPids(db, name));
      const row = await purchases(service.url, pattern, `purchases, ${pattern}`);
      row.cpu = sample();
      measures.purchases.push(row);
      log(`purchases, ${pattern}: ${describe(row)}`);
    }
    for (const route of HOSTILE_ROUTES) {
      for (const pattern of PATTERNS) {
        await settle(db, name, 60_000);
        const alone = await purchases(
          service.url,
          pattern,
          `purchases, ${pattern}, before ${route}`,
        );
        await settle(db, name, 60_000);
        const [bought, hostile] = await Promise.all([
          purchases(service.url, pattern, `purchases, ${pattern}, hostile ${route}`),
          getLoad(`hostile ${route}`, service.url, route, config.loadS, config.hostileConnections),
        ]);
        const run: HostileRun = {
          pattern,
          route,
          purchases: bought,
          hostile,
          alone,
          completedRatio: ratio(bought.completedPerS, alone.completedPerS),
          // No answer within the run: no latency to compare (not a latency of 0).
          p95Ratio: bought.requests === 0 ? null : ratio(bought.latencyMs.p95, alone.latencyMs.p95),
        };
        measures.hostile.push(run);
        log(
          `${pattern} with ${config.hostileConnections} anonymous connections on ${route}: ` +
            `purchases ${describe(bought)} (×${run.completedRatio ?? '-'} completed/s, ` +
            `×${run.p95Ratio ?? '-'} p95); hostile answers ${JSON.stringify(statusClasses(hostile))}`,
        );
        if (!service.alive()) throw new Error('The service exited during a hostile run');
      }
    }
    await settle(db, name, 60_000);
    const began = performance.now();
    const res = await fetch(`${service.url}/admin/integrity`, {
      headers: { authorization: `Bearer ${service.adminToken}` },
      signal: AbortSignal.timeout(config.routeTimeoutS * 1000),
    });
    const body = (await res.json()) as { progress?: unknown; violations?: number };
    measures.integrityAfterLoad = {
      ms: Math.round(performance.now() - began),
      status: String(res.status),
      progress: body.progress,
    };
    log(
      `incremental integrity over the purchase runs' traffic: ${measures.integrityAfterLoad.ms} ms, ` +
        `${res.status}, ${body.violations ?? '?'} violation(s), progress ${JSON.stringify(body.progress)}`,
    );
  } finally {
    onService(undefined);
    await service.stop();
  }

  const ids = await sampleSagaIds(db, 200_000);
  log(
    `cold GET /saga/:id over ${ids.length} sagas drawn at random, on a service with its cache off`,
  );
  service = await startService(config.repoRoot, config.databaseUrl, config.redisUrl, {
    ...env,
    CACHE_ENABLED: 'false',
  });
  onService(service);
  try {
    const sample = startCpuSample(service.pid, await backendPids(db, name));
    const row = await sagaReadLoad(service.url, ids, config.loadS, config.connections);
    row.cpu = sample();
    row.scenario = 'cold GET /saga/:id';
    row.description = `GET /saga/:id over ${ids.length} sagas drawn at random, CACHE_ENABLED=false`;
    measures.coldReads = row;
    log(`cold reads: ${describe(row)}`);
  } finally {
    onService(undefined);
    await service.stop();
  }
  return measures;
}
