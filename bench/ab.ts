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
import { purchaseLoad, type Pattern } from './load';
import { startService } from './service';
import { mean, median } from './stats';

const WARM_UP_S = 3;

const log = (line: string): void => console.log(`[bench:ab] ${line}`);

interface Run {
  completedPerS: number;
  /** CPU per completed purchase, ms: the service's Node process and its PostgreSQL backends. */
  cpuMs: number | null;
}

interface AbOptions {
  other: string;
  pattern: Pattern;
  hot: boolean;
  pairs: number;
  seconds: number;
}

function options(argv: string[]): AbOptions {
  const [other, pattern = 'choreography', shape = 'spread', pairs = '6', seconds = '10'] = argv;
  const usage =
    'usage: npm run bench:ab -- <other checkout, built> [orchestration|choreography] [spread|hot] [pairs] [seconds]';
  if (other === undefined) throw new BenchError(usage);
  if (!existsSync(resolve(other, 'dist', 'main.js'))) {
    throw new BenchError(
      `${resolve(other)} has no dist/main.js: run npm ci && npm run build there`,
    );
  }
  if (pattern !== 'orchestration' && pattern !== 'choreography') throw new BenchError(usage);
  if (shape !== 'spread' && shape !== 'hot') throw new BenchError(usage);
  const count = (raw: string, max: number): number => {
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new BenchError(usage);
    return Number(raw);
  };
  return {
    other: resolve(other),
    pattern,
    hot: shape === 'hot',
    pairs: count(pairs, 100),
    seconds: count(seconds, 600),
  };
}

/** One run of one build on a fresh database: fixtures, a warm-up, then the measured load. */
async function run(root: string, url: string, config: BenchConfig, o: AbOptions): Promise<Run> {
  await recreateDatabase(url);
  const service = await startService(root, url, config.redisUrl);
  try {
    const fixtures = await createFixtures(service, config.users, config.items);
    const load = {
      url: service.url,
      connections: config.connections,
      pattern: o.pattern,
      userIds: fixtures.userIds,
      itemIds: o.hot ? [fixtures.hotItemId] : fixtures.itemIds,
      onSaga: () => undefined,
      scenario: o.pattern,
      description: o.hot ? 'hot item' : 'spread',
    };
    await purchaseLoad({ ...load, durationS: WARM_UP_S });
    const pids = await withClient(url, (db) => backendPids(db, databaseName(url)));
    const sample = startCpuSample(service.pid, pids);
    const row = await purchaseLoad({ ...load, durationS: o.seconds });
    const cpu = sample();
    const completedPerS = row.completedPerS ?? 0;
    const perPurchase = (pct: number | null): number | null =>
      pct === null || completedPerS === 0 ? null : (pct / 100 / completedPerS) * 1000;
    const node = perPurchase(cpu.servicePct);
    const pg = perPurchase(cpu.postgresPct);
    return { completedPerS, cpuMs: node === null || pg === null ? null : node + pg };
  } finally {
    await service.stop();
  }
}

/**
 * Alternates this checkout's build with another's on one purchase scenario, pair after pair, so
 * that a change is judged against the machine's drift rather than against a run taken minutes
 * apart. Prints each pair's ratio (this ÷ other) and their mean and median.
 */
async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const config = benchConfig();
  const { databaseUrl, repoRoot } = config;
  if (databaseUrl === undefined) throw new BenchError('bench:ab needs DATABASE_URL');
  const url = withDatabase(databaseUrl, `${databaseName(databaseUrl)}_ab`);
  log(
    `${o.pairs} pairs of ${o.seconds} s ${o.pattern} runs (${o.hot ? 'hot item' : 'spread'}) on ` +
      `${databaseName(url)}: other ${o.other}, this ${repoRoot}`,
  );
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  try {
    for (let pair = 1; pair <= o.pairs; pair++) {
      const other = await run(o.other, url, config, o);
      const mine = await run(repoRoot, url, config, o);
      const ratio = mine.completedPerS / other.completedPerS;
      ratios.push(ratio);
      const cpu =
        mine.cpuMs === null || other.cpuMs === null ? undefined : mine.cpuMs / other.cpuMs;
      if (cpu !== undefined) cpuRatios.push(cpu);
      const ms = (value: number | null): string => (value === null ? '?' : value.toFixed(2));
      log(
        `pair ${pair}: other ${other.completedPerS}/s (CPU ${ms(other.cpuMs)} ms per purchase), ` +
          `this ${mine.completedPerS}/s (${ms(mine.cpuMs)} ms): ×${ratio.toFixed(3)}` +
          (cpu === undefined ? '' : `, CPU ×${cpu.toFixed(3)}`),
      );
    }
  } finally {
    await dropDatabase(url);
  }
  log(
    `completed/s, this ÷ other: mean ×${mean(ratios).toFixed(3)}, median ×${median(ratios).toFixed(3)}` +
      (cpuRatios.length === 0 ? '' : `; CPU per purchase: mean ×${mean(cpuRatios).toFixed(3)}`),
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchError ? error.message : error);
  process.exit(1);
});
