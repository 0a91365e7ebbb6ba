import type { Client } from 'pg';
import { resolve } from 'node:path';
import { BenchError, positive, text } from './config';
import { withClient, withDatabase } from './database';
import { runCli } from './scale-jobs';
import { median } from './stats';

/**
 * `npm run bench:integrity`: the incremental integrity run over the last stretch of traffic of a
 * grown database (bench:scale's, kept with BENCH_SCALE_KEEP=true), timed alone. The checkpoint is
 * set back to the sagas finished in the last BENCH_INTEGRITY_WINDOW_S seconds of it (60) and to
 * the ledger changes of as many (user, item) pairs, then `verify --incremental` runs
 * BENCH_INTEGRITY_RUNS times (3), the checkpoint set back before each; it is restored at the end.
 * BENCH_INTEGRITY_BUILD runs another checkout's build (its dist/) against the same database, and
 * BENCH_INTEGRITY_SEQ gives the change number to start after, to compare two builds on one window.
 */

interface Checkpoint {
  ledgerSeq: string;
  finishedAfter: Date;
}

const log = (line: string): void => console.log(`[bench:integrity] ${line}`);

async function current(db: Client): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<{ ledger_seq: string; finished_after: Date }>(
    'SELECT ledger_seq::text, finished_after FROM integrity_checkpoint WHERE id = 1',
  );
  return rows[0] === undefined
    ? undefined
    : { ledgerSeq: rows[0].ledger_seq, finishedAfter: rows[0].finished_after };
}

async function setCheckpoint(db: Client, to: Checkpoint): Promise<void> {
  await db.query(
    `INSERT INTO integrity_checkpoint (id, ledger_seq, finished_after) VALUES (1, $1, $2)
     ON CONFLICT (id) DO UPDATE SET ledger_seq = excluded.ledger_seq,
       finished_after = excluded.finished_after, updated_at = now()`,
    [to.ledgerSeq, to.finishedAfter],
  );
}

/** The window's start, and the change number after which its pairs' changes come. */
async function windowStart(db: Client, windowS: number, seq?: string): Promise<Checkpoint> {
  const { rows } = await db.query<{ finished_after: Date; pairs: string }>(
    `WITH bound AS (
       SELECT GREATEST((SELECT max(completed_at) FROM saga_states),
                       (SELECT max(failed_at) FROM saga_states)) - $1::int * interval '1 second' AS at)
     SELECT b.at AS finished_after,
            (SELECT count(DISTINCT (s.user_id, s.item_id)) FROM saga_states s
             WHERE s.completed_at >= b.at OR s.failed_at >= b.at)::text AS pairs
     FROM bound b`,
    [windowS],
  );
  const { finished_after: finishedAfter, pairs } = rows[0];
  if (seq !== undefined) return { ledgerSeq: seq, finishedAfter };
  // The change log (LedgerChangeLog) or, before it, each pair's last change number.
  const { rows: log } = await db.query<{ found: boolean }>(
    `SELECT to_regclass('saga_ledger_changes') IS NOT NULL AS found`,
  );
  const { rows: numbered } = await db.query<{ seq: string | null }>(
    log[0].found
      ? 'SELECT seq::text AS seq FROM saga_ledger_changes ORDER BY seq DESC OFFSET $1 LIMIT 1'
      : `SELECT changed_seq::text AS seq FROM saga_ledger_totals
         ORDER BY changed_seq DESC OFFSET $1 LIMIT 1`,
    [pairs],
  );
  return { ledgerSeq: numbered[0]?.seq ?? '0', finishedAfter };
}

async function main(): Promise<number> {
  const server = text(process.env, 'DATABASE_URL') ?? 'postgres://postgres@127.0.0.1:5432';
  const databaseUrl = withDatabase(
    server,
    text(process.env, 'BENCH_SCALE_DATABASE') ?? 'saga_bench_scale',
  );
  const runs = positive(process.env, 'BENCH_INTEGRITY_RUNS', 3, 100);
  const windowS = positive(process.env, 'BENCH_INTEGRITY_WINDOW_S', 60, 86_400);
  const seq = text(process.env, 'BENCH_INTEGRITY_SEQ');
  if (seq !== undefined && !/^\d+$/.test(seq)) {
    throw new BenchError(`BENCH_INTEGRITY_SEQ must be a change number, got "${seq}"`);
  }
  const build = resolve(
    text(process.env, 'BENCH_INTEGRITY_BUILD') ?? resolve(__dirname, '..', '..'),
  );
  return withClient(databaseUrl, async (db) => {
    const saved = await current(db);
    const from = await windowStart(db, windowS, seq);
    log(
      `${databaseUrl}, build ${build}: from change ${from.ledgerSeq} and sagas finished since ` +
        `${from.finishedAfter.toISOString()}, ${runs} run(s)`,
    );
    const own: number[] = [];
    try {
      for (let i = 1; i <= runs; i++) {
        await setCheckpoint(db, from);
        const run = await runCli(build, 'verify.js', ['--incremental', '--json'], databaseUrl);
        const report = JSON.parse(run.stdout || '{}') as {
          durationMs?: number;
          violations?: number;
          progress?: unknown;
        };
        // Violations (exit 1) are printed with the run; no report at all is a failure.
        if (report.durationMs === undefined) {
          throw new BenchError(
            `verify --incremental exited with ${run.exitCode}: ${(run.stderr || run.stdout).slice(0, 500)}`,
          );
        }
        own.push(report.durationMs);
        log(
          `run ${i}: ${report.durationMs} ms (process ${run.wallMs} ms), ` +
            `${report.violations} violation(s), progress ${JSON.stringify(report.progress)}`,
        );
      }
    } finally {
      if (saved !== undefined) await setCheckpoint(db, saved);
    }
    log(`median ${median(own)} ms (${own.join(', ')})`);
    return 0;
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof BenchError ? `bench:integrity: ${error.message}` : error);
    process.exit(1);
  },
);
