import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchError } from './config';

/** One run of one of the service's commands (`dist/cli/*.js`). */
export interface JobRun {
  command: string;
  exitCode: number | null;
  wallMs: number;
  /** What the command's output says, in a few words. */
  summary: string;
  /** The time the command itself reports (without the process's start), when it does. */
  ownMs?: number;
  /** The command's JSON output, when it printed one. */
  output?: unknown;
}

const OUTPUT_LIMIT = 4 * 1024 * 1024;

/** Runs `node dist/cli/<script> args` against `databaseUrl`, from a scratch folder (no .env). */
export function runCli(
  repoRoot: string,
  script: string,
  args: string[],
  databaseUrl: string,
): Promise<{ exitCode: number | null; wallMs: number; stdout: string; stderr: string }> {
  const file = join(repoRoot, 'dist', 'cli', script);
  if (!existsSync(file)) throw new BenchError(`${file} is missing: run npm run build first`);
  const began = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], {
      cwd: mkdtempSync(join(tmpdir(), 'saga-bench-')),
      env: { ...process.env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-20_000);
    });
    child.on('error', reject);
    child.on('close', (exitCode) =>
      resolve({ exitCode, wallMs: Math.round(performance.now() - began), stdout, stderr }),
    );
  });
}

function parsed(stdout: string): unknown {
  try {
    return JSON.parse(stdout) as unknown;
  } catch {
    return undefined;
  }
}

const record = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};

/** The service's own migrations (`npm run migration:run` without the build). */
export async function migrate(repoRoot: string, databaseUrl: string): Promise<void> {
  const run = await runCli(repoRoot, 'cli.js', ['migrate'], databaseUrl);
  if (run.exitCode !== 0) {
    throw new BenchError(`migrate exited with ${run.exitCode}:\n${run.stdout}${run.stderr}`);
  }
}

/** `npm run verify -- --json`: exit 0 clean, 1 violations, 2 could not run. */
export async function verify(repoRoot: string, databaseUrl: string): Promise<JobRun> {
  const run = await runCli(repoRoot, 'verify.js', ['--json'], databaseUrl);
  const report = record(parsed(run.stdout));
  const checks = Array.isArray(report.checks) ? report.checks.map(record) : [];
  const failing = checks
    .filter((check) => Number(check.violations) > 0)
    .map((check) => `${String(check.check)} ${String(check.violations)}`);
  const summary =
    report.clean === true
      ? `clean (its own time ${String(report.durationMs)} ms)`
      : report.clean === false
        ? `${String(report.violations)} violations: ${failing.join(', ')}`
        : `no report: ${(run.stderr || run.stdout).trim().slice(0, 300)}`;
  return {
    command: 'verify',
    exitCode: run.exitCode,
    wallMs: run.wallMs,
    summary,
    ownMs: typeof report.durationMs === 'number' ? report.durationMs : undefined,
    output: report.clean === undefined ? undefined : { ...report, checks },
  };
}

/** `npm run purge -- --dry-run --json`: what the retention job would remove now, counted. */
export async function retentionDryRun(repoRoot: string, databaseUrl: string): Promise<JobRun> {
  const run = await runCli(repoRoot, 'purge.js', ['--dry-run', '--json'], databaseUrl);
  const outcome = record(parsed(run.stdout));
  const due = record(outcome.due);
  const sagas = Object.values(record(due.sagas)).reduce<number>((sum, n) => sum + Number(n), 0);
  const summary =
    outcome.kind === 'dry-run'
      ? `due: ${sagas} sagas, ${String(due.outboxEvents)} outbox events, ` +
        `${String(due.idempotencyKeys)} idempotency keys`
      : `no report: ${(run.stderr || run.stdout).trim().slice(0, 300)}`;
  return {
    command: 'purge --dry-run',
    exitCode: run.exitCode,
    wallMs: run.wallMs,
    summary,
    output: outcome.kind === undefined ? undefined : outcome,
  };
}
