import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { BenchError, benchConfig, type BenchConfig } from './config';
import { startCpuSample } from './cpu';
import {
  backendPids,
  databaseName,
  dropDatabase,
  recreateDatabase,
  withClient,
  withDatabase,
} from './database';
import { createFixtures } from './fixtures';
import { purchaseLoad, sagaReadLoad, warmSagaReads, type Pattern } from './load';
import { ALL_EVENT_TYPES, RelayProbe, type LagSummary } from './relay-probe';
import { startService } from './service';
import { mean, median } from './stats';

const WARM_UP_S = 3;

const log = (line: string): void => console.log(`[bench:ab] ${line}`);

interface Run {
  /** Completed purchases per second, or answered reads. */
  perS: number;
  /** CPU per purchase (or read), ms: the service's Node process, and its PostgreSQL backends. */
  nodeMs: number | null;
  pgMs: number | null;
  /** The answers' 95th percentile latency, ms. */
  p95Ms: number;
  /** With the relay probe: each sink's lag over the measured load's events. */
  lags?: { nats: LagSummary; webhooks: LagSummary };
}

/** Both CPU figures added up, when both are known. */
const cpuOf = (run: Run): number | null =>
  run.nodeMs === null || run.pgMs === null ? null : run.nodeMs + run.pgMs;

/** `reads`: `GET /saga/:id` over the sagas of a short purchase run, with a warm cache. */
type Scenario = Pattern | 'reads';

interface AbOptions {
  other: string;
  scenario: Scenario;
  hot: boolean;
  pairs: number;
  seconds: number;
  /** Requests sent per second; undefined: as many as the service takes. */
  rate?: number;
}

function options(argv: string[]): AbOptions {
  const [other, scenario = 'choreography', shape = 'spread', pairs = '6', seconds = '10', rate] =
    argv;
  const usage =
    'usage: npm run bench:ab -- <other checkout, built> [orchestration|choreography|reads] [spread|hot] [pairs] [seconds] [requests/s]';
  if (other === undefined) throw new BenchError(usage);
  if (!existsSync(resolve(other, 'dist', 'main.js'))) {
    throw new BenchError(
      `${resolve(other)} has no dist/main.js: run npm ci && npm run build there`,
    );
  }
  if (scenario !== 'orchestration' && scenario !== 'choreography' && scenario !== 'reads') {
    throw new BenchError(usage);
  }
  if (shape !== 'spread' && shape !== 'hot') throw new BenchError(usage);
  const count = (raw: string, max: number): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new BenchError(usage);
    return Number(raw);
  };
  return {
    other: resolve(other),
    scenario,
    hot: shape === 'hot',
    pairs: count(pairs, 100),
    seconds: count(seconds, 600),
    rate: rate === undefined ? undefined : count(rate, 100_000),
  };
}

/**
 * One run of one build on a fresh database: fixtures, a warm-up (for reads: purchases, whose
 * sagas are then each read once), then the measured load.
 */
async function run(
  root: string,
  url: string,
  config: BenchConfig,
  o: AbOptions,
  env: Record<string, string> = {},
  probe?: RelayProbe,
): Promise<Run> {
  await recreateDatabase(url);
  const service = await startService(root, url, config.redisUrl, { ...probe?.env, ...env });
  try {
    await probe?.register(service);
    const fixtures = await createFixtures(service, config.users, config.items);
    const sagaIds: string[] = [];
    const load = {
      url: service.url,
      connections: config.connections,
      pattern: o.scenario === 'reads' ? 'orchestration' : o.scenario,
      userIds: fixtures.userIds,
      itemIds: o.hot ? [fixtures.hotItemId] : fixtures.itemIds,
      onSaga: (id: string) => void sagaIds.push(id),
      scenario: o.scenario,
      description: o.hot ? 'hot item' : 'spread',
    } as const;
    if (o.scenario === 'reads') {
      await purchaseLoad({ ...load, durationS: WARM_UP_S });
      await warmSagaReads(service.url, sagaIds, Math.min(16, config.connections));
    } else {
      await purchaseLoad({ ...load, durationS: WARM_UP_S, rate: o.rate });
    }
    const pids = await withClient(url, (db) => backendPids(db, databaseName(url)));
    probe?.reset();
    const loadStarted = new Date();
    const sample = startCpuSample(service.pid, pids);
    const row =
      o.scenario === 'reads'
        ? await sagaReadLoad(service.url, sagaIds, o.seconds, config.connections, o.rate)
        : await purchaseLoad({ ...load, durationS: o.seconds, rate: o.rate });
    const cpu = sample();
    const loadEnded = new Date();
    const lags = await probe?.lags(() =>
      withClient(url, async (db) => {
        const { rows } = await db.query<{ id: string; type: string }>(
          'SELECT id, type FROM integration_events WHERE occurred_at >= $1 AND occurred_at < $2',
          [loadStarted, loadEnded],
        );
        return rows;
      }),
    );
    const perS = (o.scenario === 'reads' ? row.requestsPerS : row.completedPerS) ?? 0;
    const perRequest = (pct: number | null): number | null =>
      pct === null || perS === 0 ? null : (pct / 100 / perS) * 1000;
    return {
      perS,
      nodeMs: perRequest(cpu.servicePct),
      pgMs: perRequest(cpu.postgresPct),
      p95Ms: row.latencyMs.p95,
      lags,
    };
  } finally {
    await service.stop();
  }
}

/** this ÷ other of one figure of a pair, when both runs have it. */
function ratioOf(mine: number | null, other: number | null): number | undefined {
  return mine === null || other === null || other === 0 ? undefined : mine / other;
}

/** Per figure, the pairs' ratios (this ÷ other) collected so far. */
class Ratios {
  private readonly byFigure = new Map<string, number[]>();

  add(figure: string, ratio: number | undefined): string {
    if (ratio === undefined) return '';
    const list = this.byFigure.get(figure) ?? [];
    list.push(ratio);
    this.byFigure.set(figure, list);
    return `${figure} ×${ratio.toFixed(3)}`;
  }

  summary(): string {
    return [...this.byFigure]
      .map(
        ([figure, list]) =>
          `${figure}: mean ×${mean(list).toFixed(3)}, median ×${median(list).toFixed(3)}`,
      )
      .join('; ');
  }
}

/**
 * Alternates this checkout's build with another's on one scenario, pair after pair (which goes
 * first alternating too), so that a change is judged against the machine's drift rather than
 * against a run taken minutes apart. Prints each pair's ratios (this ÷ other) and their mean and median: completed purchases
 * (or reads) per second, the answers' p95 latency, and CPU per purchase (or read): Node,
 * PostgreSQL, both. At a fixed rate
 * (`requests/s` below what either build takes), throughput is the same and the CPU figures are
 * the signal.
 */
/**
 * `BENCH_AB_WEBHOOK_EVENTS`: the event types the relay probe's webhook endpoint subscribes to,
 * comma-separated (default: all five, two deliveries per completed purchase).
 */
function webhookEvents(raw: string | undefined): readonly string[] {
  if (raw === undefined || raw.trim() === '') return ALL_EVENT_TYPES;
  const types = raw.split(',').map((type) => type.trim());
  const unknown = types.filter((type) => !ALL_EVENT_TYPES.includes(type));
  if (unknown.length > 0) {
    throw new BenchError(`BENCH_AB_WEBHOOK_EVENTS: unknown event type(s) ${unknown.join(', ')}`);
  }
  return types;
}

/** `BENCH_AB_THIS_RELAY=true`: this checkout's runs relay every event to NATS and a webhook. */
function relayOn(raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new BenchError(`BENCH_AB_THIS_RELAY must be true or false, got "${raw}"`);
}

/** One sink's lag as a run's line shows it. */
function lagText(name: string, lag: LagSummary): string {
  const ms = (value: number | null) => (value === null ? '?' : `${value}`);
  return (
    `${name} lag p50/p99 ${ms(lag.p50Ms)}/${ms(lag.p99Ms)} ms over ${lag.events} events` +
    (lag.missing > 0 ? `, ${lag.missing} not arrived` : '')
  );
}

/**
 * `BENCH_AB_THIS_ENV`: settings for this checkout's runs alone, `NAME=value` separated by spaces
 * (the same build with and without a feature: tracing on, say, against a checkout without it).
 */
function thisEnv(raw: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (raw ?? '').split(/\s+/).filter((one) => one !== '')) {
    const at = pair.indexOf('=');
    if (at < 1) throw new BenchError(`BENCH_AB_THIS_ENV: ${pair} is not NAME=value`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const mineEnv = thisEnv(process.env.BENCH_AB_THIS_ENV);
  const probe = relayOn(process.env.BENCH_AB_THIS_RELAY)
    ? await RelayProbe.start(webhookEvents(process.env.BENCH_AB_WEBHOOK_EVENTS))
    : undefined;
  const config = benchConfig();
  const { databaseUrl, repoRoot } = config;
  if (databaseUrl === undefined) throw new BenchError('bench:ab needs DATABASE_URL');
  const url = withDatabase(databaseUrl, `${databaseName(databaseUrl)}_ab`);
  log(
    `${o.pairs} pairs of ${o.seconds} s ${o.scenario} runs (${o.hot ? 'hot item' : 'spread'}, ` +
      `${o.rate === undefined ? 'as fast as taken' : `${o.rate} requests/s`}) on ` +
      `${databaseName(url)}: other ${o.other}, this ${repoRoot}` +
      (Object.keys(mineEnv).length === 0 ? '' : ` with ${Object.keys(mineEnv).join(', ')}`) +
      (probe === undefined
        ? ''
        : `, relaying to NATS and a webhook on localhost (${probe.webhookEvents.join(', ')})`),
  );
  const ratios = new Ratios();
  const lagP99s: number[] = [];
  const ms = (value: number | null): string => (value === null ? '?' : value.toFixed(3));
  const describe = (run: Run): string =>
    `${run.perS}/s, p95 ${run.p95Ms} ms, CPU ${ms(run.nodeMs)} + ${ms(run.pgMs)} ms each`;
  try {
    for (let pair = 1; pair <= o.pairs; pair++) {
      // Odd pairs run the other build first, even pairs this one: a run's place in its pair
      // (what the run before it left behind) weighs on both builds alike.
      const runOther = () => run(o.other, url, config, o);
      const runMine = () => run(repoRoot, url, config, o, mineEnv, probe);
      let other: Run;
      let mine: Run;
      if (pair % 2 === 1) {
        other = await runOther();
        mine = await runMine();
      } else {
        mine = await runMine();
        other = await runOther();
      }
      const figures = [
        ratios.add(
          o.scenario === 'reads' ? 'reads/s' : 'completed/s',
          ratioOf(mine.perS, other.perS),
        ),
        ratios.add('p95', ratioOf(mine.p95Ms, other.p95Ms)),
        ratios.add('CPU', ratioOf(cpuOf(mine), cpuOf(other))),
        ratios.add('Node CPU', ratioOf(mine.nodeMs, other.nodeMs)),
        ratios.add('PostgreSQL CPU', ratioOf(mine.pgMs, other.pgMs)),
      ].filter((figure) => figure !== '');
      log(`pair ${pair}: other ${describe(other)}; this ${describe(mine)}: ${figures.join(', ')}`);
      if (mine.lags !== undefined) {
        lagP99s.push(mine.lags.nats.p99Ms ?? Infinity, mine.lags.webhooks.p99Ms ?? Infinity);
        log(
          `pair ${pair}: this ${lagText('NATS', mine.lags.nats)}; ` +
            lagText('webhook', mine.lags.webhooks),
        );
      }
    }
  } finally {
    await dropDatabase(url);
    await probe?.stop();
  }
  log(`this ÷ other: ${ratios.summary()}`);
  if (lagP99s.length > 0) {
    log(`relay lag p99 (each sink of each run): at most ${Math.max(...lagP99s)} ms`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchError ? error.message : error);
  process.exit(1);
});
