import { join } from 'node:path';
import { BenchError, positive, text, type Env } from './config';
import { withDatabase } from './database';

export interface ScaleConfig {
  /** The grown database (`saga_bench_scale` on DATABASE_URL's server by default). */
  databaseUrl: string;
  redisUrl?: string;
  /** Sagas at each measurement, ascending: the database grows from one to the next. */
  sizes: number[];
  /** Sagas per growth transaction. */
  chunk: number;
  /** Each purchase run, hostile run and cold-read run, seconds. */
  loadS: number;
  connections: number;
  /** Anonymous connections hammering a public statistics route during a purchase run. */
  hostileConnections: number;
  /** Timed calls of each route (after one warm-up call). */
  calls: number;
  /** A route call still unanswered after this is recorded as timed out. */
  routeTimeoutS: number;
  /** Grow, then run the jobs (verify, retention dry run) only: no service, no load. */
  growOnly: boolean;
  /** Leave the database behind (it is dropped at the end otherwise). */
  keep: boolean;
  repoRoot: string;
  resultsDir: string;
}

const USAGE =
  'usage: npm run bench:scale -- [--sizes 10000,2000000] [--grow-only] [--keep] ' +
  '(or BENCH_SCALE_SIZES, BENCH_SCALE_GROW_ONLY=true, BENCH_SCALE_KEEP=true)';

function sizesOf(raw: string): number[] {
  const sizes = raw.split(',').map((part) => part.trim().replace(/_/g, ''));
  if (sizes.some((size) => !/^\d+$/.test(size))) {
    throw new BenchError(`sizes must be integers separated by commas, got "${raw}"`);
  }
  const numbers = sizes.map(Number);
  if (numbers.some((n) => n < 1000 || n > 200_000_000)) {
    throw new BenchError(`each size must be between 1,000 and 200,000,000 sagas, got "${raw}"`);
  }
  if (numbers.some((n, i) => i > 0 && n <= numbers[i - 1])) {
    throw new BenchError(
      `sizes must grow from one to the next (the database only grows): "${raw}"`,
    );
  }
  return numbers;
}

function flag(env: Env, name: string): boolean {
  const raw = text(env, name)?.toLowerCase();
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new BenchError(`${name} must be true or false, got "${raw}"`);
}

/** Reads the scale bench's settings: arguments first, then the environment, then defaults. */
export function scaleConfig(argv: string[], env: Env = process.env): ScaleConfig {
  let sizes = text(env, 'BENCH_SCALE_SIZES') ?? '10000,2000000';
  let growOnly = flag(env, 'BENCH_SCALE_GROW_ONLY');
  let keep = flag(env, 'BENCH_SCALE_KEEP');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--grow-only') growOnly = true;
    else if (arg === '--keep') keep = true;
    else if (arg === '--sizes' && argv[i + 1] !== undefined) sizes = argv[++i];
    else if (arg.startsWith('--sizes=')) sizes = arg.slice('--sizes='.length);
    else throw new BenchError(USAGE);
  }
  const server = text(env, 'DATABASE_URL') ?? 'postgres://postgres@127.0.0.1:5432';
  if (!/^postgres(ql)?:\/\//.test(server)) {
    throw new BenchError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const repoRoot = join(__dirname, '..', '..');
  return {
    databaseUrl: withDatabase(server, text(env, 'BENCH_SCALE_DATABASE') ?? 'saga_bench_scale'),
    redisUrl: text(env, 'REDIS_URL'),
    sizes: sizesOf(sizes),
    chunk: positive(env, 'BENCH_SCALE_CHUNK', 200_000, 2_000_000),
    loadS: positive(env, 'BENCH_SCALE_LOAD_S', 10, 3600),
    connections: positive(env, 'BENCH_CONNECTIONS', 64, 10_000),
    hostileConnections: positive(env, 'BENCH_SCALE_HOSTILE_CONNECTIONS', 32, 10_000),
    calls: positive(env, 'BENCH_SCALE_CALLS', 5, 1000),
    routeTimeoutS: positive(env, 'BENCH_SCALE_ROUTE_TIMEOUT_S', 120, 3600),
    growOnly,
    keep,
    repoRoot,
    resultsDir: join(repoRoot, 'bench', 'results'),
  };
}
