import { join } from 'node:path';

export class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchError';
  }
}

export interface BenchConfig {
  /** A service already running: the bench starts none. */
  targetUrl?: string;
  /** The service's database: created from scratch when the bench starts the service. */
  databaseUrl?: string;
  redisUrl?: string;
  /** Needed for the admin routes of a service the bench did not start. */
  adminToken?: string;
  durationS: number;
  connections: number;
  burstUsers: number;
  burstPerUser: number;
  users: number;
  items: number;
  /** How long in-flight sagas get to settle before the invariants are checked. */
  settleMs: number;
  pgbenchClients: number;
  pgbenchThreads: number;
  repoRoot: string;
  resultsDir: string;
}

export type Env = Record<string, string | undefined>;

/** A variable's value, trimmed; undefined when unset or blank. */
export function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** An integer variable within 1..max, else `fallback` when unset. */
export function positive(env: Env, name: string, fallback: number, max: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new BenchError(`${name} must be an integer between 1 and ${max}, got "${raw}"`);
  }
  return Number(raw);
}

/** Reads the bench settings from the environment; the defaults are the published figures'. */
export function benchConfig(env: Env = process.env): BenchConfig {
  const targetUrl = text(env, 'BENCH_URL')?.replace(/\/+$/, '');
  const databaseUrl = text(env, 'DATABASE_URL');
  if (targetUrl === undefined && databaseUrl === undefined) {
    throw new BenchError(
      'Set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/saga_bench: the bench recreates ' +
        'that database and starts the service on it) or BENCH_URL (a service already running)',
    );
  }
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new BenchError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const adminToken = text(env, 'ADMIN_TOKEN');
  if (targetUrl !== undefined && adminToken === undefined) {
    throw new BenchError('BENCH_URL needs the ADMIN_TOKEN of that service (to create bench data)');
  }
  const repoRoot = join(__dirname, '..', '..');
  return {
    targetUrl,
    databaseUrl,
    redisUrl: text(env, 'REDIS_URL'),
    adminToken,
    durationS: positive(env, 'BENCH_DURATION_S', 20, 3600),
    connections: positive(env, 'BENCH_CONNECTIONS', 64, 10_000),
    burstUsers: 100,
    burstPerUser: 10,
    users: 1000,
    items: 100,
    settleMs: positive(env, 'BENCH_SETTLE_MS', 10_000, 600_000),
    pgbenchClients: 8,
    pgbenchThreads: 2,
    repoRoot,
    resultsDir: join(repoRoot, 'bench', 'results'),
  };
}
