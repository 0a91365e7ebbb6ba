import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Latency, ScenarioRow } from './load';
import { pgbenchLines, ratios, table, type BenchReport } from './report';
import type { PgbenchFigure, PgbenchResult } from './pgbench';
import { median } from './stats';

function medianOf(values: (number | null | undefined)[]): number | null {
  const present = values.filter((v): v is number => typeof v === 'number');
  return present.length === 0 ? null : Math.round(median(present) * 10) / 10;
}

function medianRow(rows: ScenarioRow[]): ScenarioRow {
  const first = rows[0];
  const latency = (key: keyof Latency): number => medianOf(rows.map((r) => r.latencyMs[key])) ?? 0;
  const statuses: Record<string, number> = {};
  for (const status of new Set(rows.flatMap((r) => Object.keys(r.statuses)))) {
    statuses[status] = medianOf(rows.map((r) => r.statuses[status] ?? 0)) ?? 0;
  }
  const cpu = (pick: (row: ScenarioRow) => number | null | undefined): number | null =>
    medianOf(rows.map(pick));
  return {
    ...first,
    requests: medianOf(rows.map((r) => r.requests)) ?? 0,
    requestsPerS: medianOf(rows.map((r) => r.requestsPerS)) ?? 0,
    completed: medianOf(rows.map((r) => r.completed)),
    completedPerS: medianOf(rows.map((r) => r.completedPerS)),
    latencyMs: {
      p50: latency('p50'),
      p95: latency('p95'),
      p99: latency('p99'),
      max: latency('max'),
    },
    statuses,
    errors: medianOf(rows.map((r) => r.errors)) ?? 0,
    timeouts: medianOf(rows.map((r) => r.timeouts)) ?? 0,
    invariants: rows.every((r) => r.invariants === 'PASS')
      ? 'PASS'
      : rows.some((r) => r.invariants === 'FAIL')
        ? 'FAIL'
        : first.invariants,
    cpu: {
      servicePct: cpu((r) => r.cpu?.servicePct),
      postgresPct: cpu((r) => r.cpu?.postgresPct),
      benchPct: cpu((r) => r.cpu?.benchPct) ?? 0,
      machinePct: cpu((r) => r.cpu?.machinePct),
    },
  };
}

/** Prints the median of each figure over the last N results files (default 3). */
async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? '3');
  const dir = join(__dirname, '..', '..', 'bench', 'results');
  const files = (await readdir(dir))
    .filter((f) => f.startsWith('bench-') && f.endsWith('.json'))
    .sort()
    .slice(-count);
  if (files.length === 0) throw new Error(`No results in ${dir}: run npm run bench first`);
  const reports = await Promise.all(
    files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as BenchReport),
  );
  const names = reports[0].scenarios.map((s) => s.scenario);
  const rows = names.map((name) =>
    medianRow(reports.flatMap((r) => r.scenarios.filter((s) => s.scenario === name))),
  );
  const scripts = [...new Set(reports.flatMap((r) => r.pgbench.figures.map((f) => f.script)))];
  const pgbench: PgbenchResult = {
    available: reports.some((r) => r.pgbench.available),
    reason: reports[0].pgbench.reason,
    figures: scripts.map((script): PgbenchFigure => {
      const figures = reports.flatMap((r) => r.pgbench.figures.filter((f) => f.script === script));
      return {
        ...figures[0],
        tps: medianOf(figures.map((f) => f.tps)),
        latencyAvgMs: medianOf(figures.map((f) => f.latencyAvgMs)),
        failed: medianOf(figures.map((f) => f.failed)),
      };
    }),
  };
  console.log(`Medians of ${files.length} runs: ${files.join(', ')}`);
  console.log('');
  console.log(table(rows));
  console.log('');
  for (const line of pgbenchLines(pgbench, ratios(rows, pgbench))) console.log(line);
  const burst = reports.map((r) => r.scenarios.find((s) => s.scenario.startsWith('4 ')));
  console.log(
    `burst, all answered after (s): ${burst.map((b) => b?.durationS ?? '-').join(', ')}; ` +
      `load average at start: ${reports.map((r) => r.machine.loadAverageAtStart[0]).join(', ')}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
