import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchError, benchConfig, type BenchConfig } from './config';
import { databaseName, dropDatabase, recreateDatabase, withClient, withDatabase } from './database';
import { createFixtures } from './fixtures';
import { purchaseLoad } from './load';
import { startService } from './service';
import { median } from './stats';

const log = (line: string): void => console.log(`[bench:soak] ${line}`);

/** Short windows, so that a few minutes show the steady state of a policy of weeks. */
const RETENTION = {
  RETENTION_SAGAS: '2m',
  RETENTION_OUTBOX: '30s',
  RETENTION_IDEMPOTENCY: '30s',
  RETENTION_CRON: '*/10 * * * * *',
};
const KEPT = { RETENTION_SAGAS: 'off', RETENTION_OUTBOX: 'off', RETENTION_IDEMPOTENCY: 'off' };

interface Minute {
  minute: number;
  completedPerS: number;
  p95Ms: number;
  /** pg_database_size at the minute's end, MB. */
  databaseMb: number;
  sagas: number;
}

interface SoakRun {
  mode: 'retention' | 'kept';
  minutes: Minute[];
}

async function sizeOf(url: string): Promise<{ databaseMb: number; sagas: number }> {
  return withClient(url, async (db) => {
    const { rows } = await db.query<{ bytes: string; sagas: string }>(
      `SELECT pg_database_size(current_database())::text AS bytes,
              (SELECT count(*) FROM saga_states)::text AS sagas`,
    );
    return {
      databaseMb: Math.round(Number(rows[0].bytes) / 1e5) / 10,
      sagas: Number(rows[0].sagas),
    };
  });
}

/** The mixed purchase load (both patterns, spread over the items) for `minutes`, one row a minute. */
async function soak(
  mode: SoakRun['mode'],
  minutes: number,
  url: string,
  config: BenchConfig,
): Promise<SoakRun> {
  await recreateDatabase(url);
  const service = await startService(
    config.repoRoot,
    url,
    config.redisUrl,
    mode === 'retention' ? RETENTION : KEPT,
  );
  const rows: Minute[] = [];
  try {
    const fixtures = await createFixtures(service, config.users, config.items);
    for (let minute = 1; minute <= minutes; minute++) {
      const row = await purchaseLoad({
        scenario: `soak-${mode}`,
        description: `minute ${minute}`,
        url: service.url,
        durationS: 60,
        connections: config.connections,
        pattern: 'mixed',
        userIds: fixtures.userIds,
        itemIds: fixtures.itemIds,
        onSaga: () => undefined,
      });
      const size = await sizeOf(url);
      const one: Minute = {
        minute,
        completedPerS: row.completedPerS ?? 0,
        p95Ms: row.latencyMs.p95,
        ...size,
      };
      rows.push(one);
      log(
        `${mode} minute ${minute}: ${one.completedPerS} completed/s, p95 ${one.p95Ms} ms, ` +
          `database ${one.databaseMb} MB, ${one.sagas} sagas kept`,
      );
      if (!service.alive()) throw new BenchError('The service exited during the soak');
    }
  } finally {
    await service.stop();
  }
  return { mode, minutes: rows };
}

/** How far the database size moved over the last five minutes, as a share of its mean. */
function lastFiveSpread(run: SoakRun): number {
  const sizes = run.minutes.slice(-5).map((m) => m.databaseMb);
  const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
  return (Math.max(...sizes) - Math.min(...sizes)) / 2 / mean;
}

/**
 * `npm run bench:soak -- [minutes]`: the mixed purchase load for `minutes` (at least 10) with
 * short retention windows, then the same without retention; prints the database size every
 * minute, and at the end whether the size stopped growing and what retention cost.
 */
async function main(): Promise<void> {
  const minutes = Number(process.argv[2] ?? '10');
  if (!Number.isInteger(minutes) || minutes < 6 || minutes > 600) {
    throw new BenchError('usage: npm run bench:soak -- [minutes, 6-600, default 10]');
  }
  const config = benchConfig();
  if (config.databaseUrl === undefined) throw new BenchError('bench:soak needs DATABASE_URL');
  const url = withDatabase(config.databaseUrl, `${databaseName(config.databaseUrl)}_soak`);
  log(
    `${minutes} minutes of mixed purchases with retention (${JSON.stringify(RETENTION)}), ` +
      `then ${minutes} without, ${config.connections} connections, on ${databaseName(url)}`,
  );
  const runs: SoakRun[] = [];
  try {
    runs.push(await soak('retention', minutes, url, config));
    runs.push(await soak('kept', minutes, url, config));
  } finally {
    await dropDatabase(url);
  }
  // The first minutes fill the retention window; the comparison takes the minutes after it.
  const steady = (run: SoakRun) => run.minutes.slice(3);
  const [kept, purged] = [runs[1], runs[0]];
  const figure = (run: SoakRun, key: 'completedPerS' | 'p95Ms') =>
    median(steady(run).map((m) => m[key]));
  const summary = {
    minutes,
    retention: RETENTION,
    sizeSpreadLastFive: lastFiveSpread(purged),
    retentionMb: purged.minutes.map((m) => m.databaseMb),
    keptMb: kept.minutes.map((m) => m.databaseMb),
    completedPerS: {
      retention: figure(purged, 'completedPerS'),
      kept: figure(kept, 'completedPerS'),
    },
    p95Ms: { retention: figure(purged, 'p95Ms'), kept: figure(kept, 'p95Ms') },
    runs,
  };
  const throughput = summary.completedPerS.retention / summary.completedPerS.kept;
  const p95 = summary.p95Ms.retention / summary.p95Ms.kept;
  log(
    `database size over the last 5 minutes with retention: ±${(summary.sizeSpreadLastFive * 100).toFixed(1)}% ` +
      `(${purged.minutes.at(-1)?.databaseMb} MB at the end; ${kept.minutes.at(-1)?.databaseMb} MB without)`,
  );
  log(
    `median from minute 4: ${summary.completedPerS.retention} vs ${summary.completedPerS.kept} completed/s ` +
      `(×${throughput.toFixed(3)}), p95 ${summary.p95Ms.retention} vs ${summary.p95Ms.kept} ms (×${p95.toFixed(3)})`,
  );
  const file = join(
    config.resultsDir,
    `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
  );
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  log(`written to ${file}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchError ? error.message : error);
  process.exit(1);
});
