import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { recreateDatabase, dropDatabase, withClient } from './database';

const run = promisify(execFile);

export interface PgbenchFigure {
  script: string;
  clients: number;
  durationS: number;
  tps: number | null;
  latencyAvgMs: number | null;
  failed: number | null;
  error?: string;
}

export interface PgbenchResult {
  available: boolean;
  reason?: string;
  version?: string;
  database?: string;
  figures: PgbenchFigure[];
}

async function pgbenchVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('pgbench', ['--version']);
    return stdout.trim();
  } catch {
    return undefined;
  }
}

function number(output: string, pattern: RegExp): number | null {
  const match = pattern.exec(output);
  return match === null ? null : Number(match[1]);
}

/** Loads schema.sql statement by statement (VACUUM cannot run in the implicit transaction). */
async function loadSchema(url: string, dir: string): Promise<number> {
  const text = await readFile(join(dir, 'schema.sql'), 'utf8');
  const statements = text
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  await withClient(url, async (db) => {
    for (const statement of statements) await db.query(statement);
  });
  return statements.length;
}

/** A numbered table of the sagas A and B wrote, for the status-lookup script. */
async function createLookup(url: string): Promise<number> {
  return withClient(url, async (db) => {
    await db.query(
      `CREATE TABLE saga_lookup AS
       SELECT (row_number() OVER ())::int AS n, transaction_id AS txid FROM saga_states`,
    );
    await db.query('ALTER TABLE saga_lookup ADD PRIMARY KEY (n)');
    await db.query('ANALYZE');
    const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM saga_lookup');
    return Number(rows[0]?.n ?? 0);
  });
}

async function pgbench(
  url: string,
  dir: string,
  script: string,
  clients: number,
  threads: number,
  durationS: number,
  extra: string[] = [],
): Promise<PgbenchFigure> {
  const args = [
    '-n',
    '-M',
    'prepared',
    '-c',
    String(clients),
    '-j',
    String(threads),
    '-T',
    String(durationS),
    ...extra,
    '-f',
    join(dir, script),
    url,
  ];
  const figure: PgbenchFigure = {
    script,
    clients,
    durationS,
    tps: null,
    latencyAvgMs: null,
    failed: null,
  };
  try {
    const { stdout } = await run('pgbench', args, { maxBuffer: 16 * 1024 * 1024 });
    figure.tps = number(stdout, /^tps = ([\d.]+)/m);
    figure.latencyAvgMs = number(stdout, /^latency average = ([\d.]+) ms/m);
    figure.failed = number(stdout, /^number of failed transactions: (\d+)/m);
    if (figure.tps === null) figure.error = `no tps in the output:\n${stdout}`;
  } catch (error) {
    figure.error = error instanceof Error ? error.message : String(error);
  }
  return figure;
}

/**
 * The raw-SQL ceiling on the same server: the saga's writes in plain SQL, in one transaction (A)
 * and committed step by step (B), then saga lookups by id (C), into a scratch database.
 */
export async function rawSqlCeiling(
  url: string,
  dir: string,
  clients: number,
  threads: number,
  durationS: number,
  log: (line: string) => void,
): Promise<PgbenchResult> {
  const version = await pgbenchVersion();
  if (version === undefined) {
    return { available: false, reason: 'pgbench is not on the PATH', figures: [] };
  }
  await recreateDatabase(url);
  try {
    await loadSchema(url, dir);
    const figures: PgbenchFigure[] = [];
    for (const script of ['A_one_tx.sql', 'B_step_per_tx.sql']) {
      log(`pgbench ${script}, ${clients} clients, ${durationS} s`);
      figures.push(await pgbench(url, dir, script, clients, threads, durationS));
    }
    const sagas = await createLookup(url);
    if (sagas > 0) {
      log(`pgbench C_status_lookup.sql over ${sagas} sagas, ${clients} clients, ${durationS} s`);
      figures.push(
        await pgbench(url, dir, 'C_status_lookup.sql', clients, threads, durationS, [
          '-D',
          `nsagas=${sagas}`,
        ]),
      );
    }
    return { available: true, version, database: new URL(url).pathname.slice(1), figures };
  } finally {
    await dropDatabase(url);
  }
}
