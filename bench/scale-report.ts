import { mkdir, writeFile } from 'node:fs/promises';
import type { ScenarioRow } from './load';
import { resultsPath, type MachineInfo } from './report';
import type { DiskUsage, Growth } from './scale-data';
import type { JobRun } from './scale-jobs';
import { HOSTILE_ROUTES, statusClasses, type ServiceMeasures } from './scale-measure';

export interface SizeResult {
  /** The size asked for. */
  target: number;
  /** Sagas in the database when it was measured (the runs before it added their own). */
  sagas: number;
  growth: Growth;
  disk: DiskUsage;
  verify: JobRun;
  retentionDryRun: JobRun;
  service?: ServiceMeasures;
}

export interface ScaleReport {
  startedAt: string;
  finishedAt?: string;
  database: string;
  settings: Record<string, unknown>;
  machine: MachineInfo;
  sizes: SizeResult[];
  /** verify once every run is done: the runs' purchases kept the ledgers too. */
  finalVerify?: JobRun;
  /** What fails the run: a job that failed, a verify that was not clean. */
  problems: string[];
  /** What is worth a look: routes that answered other than 2xx, or not at all. */
  notes: string[];
}

interface Cell {
  text: string;
  /** What the ratio column divides; null: no ratio. */
  value: number | null;
}

type Line = { label: string; cells: Cell[] } | { section: string };

const number = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits });
const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;
const cell = (text: string, value: number | null): Cell => ({ text, value });
const none: Cell = { text: '-', value: null };

function non2xx(statuses: Record<string, number>): string {
  const parts = Object.entries(statuses)
    .filter(([status]) => !/^2\d\d$/.test(status))
    .map(([status, n]) => `${status}×${n}`);
  return parts.length === 0 ? '' : ` (${parts.join(' ')})`;
}

function lines(sizes: SizeResult[]): Line[] {
  const out: Line[] = [];
  const row = (label: string, of: (size: SizeResult) => Cell): void => {
    out.push({ label, cells: sizes.map(of) });
  };
  const measured = (of: (service: ServiceMeasures) => Cell) => (size: SizeResult) =>
    size.service === undefined ? none : of(size.service);

  out.push({ section: 'data' });
  row('sagas when measured', (s) => cell(number(s.sagas), s.sagas));
  row('growth to this size: sagas/s (s)', (s) =>
    cell(`${number(s.growth.sagasPerS)} (${number(s.growth.seconds, 1)})`, s.growth.sagasPerS),
  );
  row('VACUUM (ANALYZE) after it, s', (s) =>
    cell(number(s.growth.vacuumAnalyzeS, 1), s.growth.vacuumAnalyzeS),
  );
  row('database, MB', (s) => cell(number(mb(s.disk.databaseBytes), 1), s.disk.databaseBytes));
  const largest = sizes.at(-1)?.disk.tables ?? [];
  for (const { table } of largest) {
    row(`${table}: table + indexes, MB`, (s) => {
      const found = s.disk.tables.find((t) => t.table === table);
      return found === undefined
        ? none
        : cell(
            `${number(mb(found.tableBytes), 1)} + ${number(mb(found.indexBytes), 1)}`,
            found.tableBytes + found.indexBytes,
          );
    });
  }

  out.push({ section: 'jobs, wall time s (exit code)' });
  const job = (of: (s: SizeResult) => JobRun) => (s: SizeResult) => {
    const run = of(s);
    return cell(`${number(run.wallMs / 1000, 1)} (${run.exitCode ?? 'killed'})`, run.wallMs);
  };
  row(
    'npm run verify',
    job((s) => s.verify),
  );
  row('verify, its own time, s', (s) =>
    s.verify.ownMs === undefined ? none : cell(number(s.verify.ownMs / 1000, 2), s.verify.ownMs),
  );
  row(
    'npm run purge -- --dry-run',
    job((s) => s.retentionDryRun),
  );

  const routes = sizes.find((s) => s.service !== undefined)?.service?.routes ?? [];
  if (routes.length > 0) out.push({ section: 'routes, median / p95 ms (non-2xx)' });
  for (const { route } of routes) {
    row(
      route,
      measured((service) => {
        const timing = service.routes.find((r) => r.route === route);
        if (timing === undefined) return none;
        const latency = timing.latencyMs;
        return cell(
          latency === null
            ? `-${non2xx(timing.statuses)}`
            : `${number(latency.p50, 1)} / ${number(latency.p95, 1)}${non2xx(timing.statuses)}`,
          latency?.p50 ?? null,
        );
      }),
    );
  }

  if (sizes.some((s) => s.service !== undefined)) {
    out.push({ section: 'purchases: completed/s, p50 / p95 ms (non-2xx)' });
    for (const pattern of ['orchestration', 'choreography']) {
      row(
        pattern,
        measured((service) => {
          const run = service.purchases.find((p) => p.scenario === `purchases, ${pattern}`);
          return run === undefined ? none : purchaseCell(run);
        }),
      );
    }
    out.push({
      section:
        'with anonymous callers on a public route: purchases completed/s ×, p95 × (against a run ' +
        'alone just before); the callers answers 2xx / 429 / 5xx / errors',
    });
    for (const route of HOSTILE_ROUTES) {
      for (const pattern of ['orchestration', 'choreography']) {
        row(
          `${pattern} + ${route}`,
          measured((service) => {
            const run = service.hostile.find((h) => h.route === route && h.pattern === pattern);
            if (run === undefined) return none;
            const c = statusClasses(run.hostile);
            const timedOut =
              run.purchases.errors > 0 ? ` (${number(run.purchases.errors)} unanswered)` : '';
            const purchases =
              run.purchases.requests === 0
                ? `no purchase answered${timedOut}`
                : `×${run.completedRatio ?? '-'}, ×${run.p95Ratio ?? '-'}${timedOut}`;
            return cell(
              `${purchases}; ` +
                `${number(c['2xx'])} / ${number(c['429'])} / ${number(c['5xx'])} / ${number(c.errors)}`,
              run.completedRatio,
            );
          }),
        );
      }
    }
    out.push({
      section:
        "incremental integrity over the purchase runs' traffic: ms (status; changes, finished sagas checked)",
    });
    row(
      'integrity',
      measured((service) => {
        const run = service.integrityAfterLoad;
        if (run === undefined) return none;
        const progress = run.progress as
          { changesChecked?: number; sagasChecked?: number } | undefined;
        return cell(
          `${number(run.ms)} (${run.status}; ${progress?.changesChecked ?? '-'}, ${progress?.sagasChecked ?? '-'})`,
          run.ms,
        );
      }),
    );
    out.push({ section: 'cold GET /saga/:id (cache off): reads/s, p50 / p95 ms (non-2xx)' });
    row(
      'reads',
      measured((service) => {
        const run = service.coldReads;
        if (run === undefined) return none;
        return cell(
          `${number(run.requestsPerS)}, ${run.latencyMs.p50} / ${run.latencyMs.p95}${non2xx(run.statuses)}`,
          run.requestsPerS,
        );
      }),
    );
  }
  return out;
}

function purchaseCell(run: ScenarioRow): Cell {
  const errors = run.errors > 0 ? ` ${run.errors} errors` : '';
  return cell(
    `${number(run.completedPerS ?? 0)}, ${run.latencyMs.p50} / ${run.latencyMs.p95}${non2xx(run.statuses)}${errors}`,
    run.completedPerS,
  );
}

/** Every size side by side, with the last ÷ the first. */
export function scaleTable(sizes: SizeResult[]): string {
  if (sizes.length === 0) return '';
  const first = sizes[0];
  const last = sizes[sizes.length - 1];
  const header = [
    'measure',
    ...sizes.map((s) => `${number(s.target)} sagas`),
    ...(sizes.length > 1 ? [`${number(last.target)} ÷ ${number(first.target)}`] : []),
  ];
  const body = lines(sizes).map((line) => {
    if ('section' in line) return [`**${line.section}**`, ...header.slice(1).map(() => '')];
    const a = line.cells[0].value;
    const b = line.cells[line.cells.length - 1].value;
    const ratio =
      a === null || b === null || a === 0 ? '-' : `×${number(b / a, b / a < 10 ? 2 : 0)}`;
    return [line.label, ...line.cells.map((c) => c.text), ...(sizes.length > 1 ? [ratio] : [])];
  });
  const format = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const rule = `|---|${header
    .slice(1)
    .map(() => '--:|')
    .join('')}`;
  return [format(header), rule, ...body.map(format)].join('\n');
}

export function machineLine(machine: MachineInfo): string {
  const pg = machine.postgres;
  return (
    `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGb} GB, Node ${machine.node}, ` +
    `PostgreSQL ${pg?.version ?? '?'} (fsync ${pg?.fsync ?? '?'}, synchronous_commit ` +
    `${pg?.synchronousCommit ?? '?'}), load average at start ${machine.loadAverageAtStart.join(' ')}`
  );
}

/** Writes `scale-<time>.json` and `scale-<time>.md` (the table) into `dir`; answers both paths. */
export async function writeScaleReport(
  dir: string,
  report: ScaleReport,
): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const json = resultsPath(dir, 'scale', report.startedAt, 'json');
  const markdown = resultsPath(dir, 'scale', report.startedAt, 'md');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  const text = [
    `# Scale benchmark, ${report.startedAt}`,
    '',
    `Database ${report.database}; ${machineLine(report.machine)}.`,
    `Settings: ${JSON.stringify(report.settings)}.`,
    '',
    scaleTable(report.sizes),
    '',
    ...(report.finalVerify === undefined
      ? []
      : [`verify after every run: ${report.finalVerify.summary}`, '']),
    ...report.notes.map((note) => `- note: ${note}`),
    ...report.problems.map((problem) => `- problem: ${problem}`),
  ].join('\n');
  await writeFile(markdown, `${text}\n`);
  return { json, markdown };
}
