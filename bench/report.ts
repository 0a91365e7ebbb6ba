import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ServerInfo } from './database';
import type { ScenarioRow } from './load';
import type { PgbenchResult } from './pgbench';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
  loadAverageAtStart: number[];
  postgres?: ServerInfo;
}

export function machineInfo(postgres?: ServerInfo): MachineInfo {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverageAtStart: loadavg().map((v) => Math.round(v * 100) / 100),
    postgres,
  };
}

export interface Ratios {
  /** Completed purchases/s of scenario 1 ÷ pgbench A (one transaction per saga) tps. */
  serviceOverOneTx: number | null;
  /** Completed purchases/s of scenario 1 ÷ pgbench B (six commits per saga) tps. */
  serviceOverStepPerTx: number | null;
  /** GET /saga/:id per second ÷ pgbench C (lookup by id) tps. */
  readsOverLookup: number | null;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  target: string;
  settings: { durationS: number; connections: number; pattern: string };
  machine: MachineInfo;
  scenarios: ScenarioRow[];
  pgbench: PgbenchResult;
  ratios: Ratios;
  pass: boolean;
  problems: string[];
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0
    ? null
    : Math.round((a / b) * 100) / 100;

export function ratios(scenarios: ScenarioRow[], pgbench: PgbenchResult): Ratios {
  const tps = (script: string): number | null =>
    pgbench.figures.find((f) => f.script === script)?.tps ?? null;
  const spread = scenarios.find((s) => s.scenario.startsWith('1 '));
  const reads = scenarios.find((s) => s.scenario.startsWith('5 '));
  return {
    serviceOverOneTx: ratio(spread?.completedPerS, tps('A_one_tx.sql')),
    serviceOverStepPerTx: ratio(spread?.completedPerS, tps('B_step_per_tx.sql')),
    readsOverLookup: ratio(reads?.requestsPerS, tps('C_status_lookup.sql')),
  };
}

function non2xx(statuses: Record<string, number>): string {
  const parts = Object.entries(statuses)
    .filter(([status]) => Number(status) < 200 || Number(status) >= 300)
    .map(([status, n]) => `${status}×${n}`);
  return parts.length === 0 ? '0' : parts.join(' ');
}

const fixed = (value: number | null): string =>
  value === null ? '-' : value.toLocaleString('en-US', { maximumFractionDigits: 0 });

const pct = (value: number | null | undefined): string =>
  value === null || value === undefined ? '-' : `${value}%`;

/** The scenarios as a Markdown table (it reads as well in a terminal as in the README). */
export function table(scenarios: ScenarioRow[]): string {
  const header = [
    'scenario',
    'req/s',
    'completed/s',
    'p50 ms',
    'p95 ms',
    'p99 ms',
    'non-2xx',
    'errors (timeouts)',
    'invariants',
    'CPU node / pg / bench / machine',
  ];
  const lines = scenarios.map((s) => [
    s.scenario,
    fixed(s.requestsPerS),
    fixed(s.completedPerS),
    String(s.latencyMs.p50),
    String(s.latencyMs.p95),
    String(s.latencyMs.p99),
    non2xx(s.statuses),
    `${s.errors} (${s.timeouts})`,
    s.invariants ?? '-',
    s.cpu === undefined
      ? '-'
      : [s.cpu.servicePct, s.cpu.postgresPct, s.cpu.benchPct, s.cpu.machinePct]
          .map(pct)
          .join(' / '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [format(header), rule, ...lines.map(format)].join('\n');
}

export function pgbenchLines(result: PgbenchResult, ratioValues: Ratios): string[] {
  if (!result.available) return [`pgbench: skipped (${result.reason ?? 'unavailable'})`];
  const lines = result.figures.map((f) =>
    f.tps === null
      ? `pgbench ${f.script}: failed: ${f.error ?? 'unknown'}`
      : `pgbench ${f.script} (${f.clients} clients, ${f.durationS} s): ${fixed(f.tps)} tps, ` +
        `latency avg ${f.latencyAvgMs ?? '-'} ms, failed ${f.failed ?? '-'}`,
  );
  const show = (value: number | null): string => (value === null ? '-' : `${value}×`);
  lines.push(
    `service ÷ raw SQL: scenario 1 completed/s ÷ A (one transaction) = ` +
      `${show(ratioValues.serviceOverOneTx)}, ÷ B (six commits) = ` +
      `${show(ratioValues.serviceOverStepPerTx)}; scenario 5 reads/s ÷ C (lookups) = ` +
      show(ratioValues.readsOverLookup),
  );
  return lines;
}

/** Where a run's results go: `<dir>/<kind>-<start time, file-name safe>.<extension>`. */
export function resultsPath(dir: string, kind: string, startedAt: string, extension: string) {
  return join(dir, `${kind}-${startedAt.replace(/[:.]/g, '-')}.${extension}`);
}

export async function writeReport(dir: string, report: BenchReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = resultsPath(dir, 'bench', report.startedAt, 'json');
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
