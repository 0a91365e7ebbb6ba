import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Redis from 'ioredis';
import { BenchError } from './config';

export interface Service {
  url: string;
  adminToken: string;
  /** The child's pid when the bench started the service, for CPU sampling. */
  pid?: number;
  /** False once a service the bench started has exited. */
  alive(): boolean;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** A port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Deletes the keys a run's service left under its own prefix (cached views and version floors,
 * which would otherwise linger until their TTL: hundreds of thousands after a day of runs).
 */
async function deleteCacheKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** A service the bench did not start: checked for health, never stopped. */
export async function existingService(url: string, adminToken: string): Promise<Service> {
  if (!(await healthy(url))) throw new BenchError(`BENCH_URL ${url}: GET /health is not 200`);
  return { url, adminToken, alive: () => true, stop: () => Promise.resolve() };
}

/**
 * Starts the built service (`dist/main.js`) on a free port, as `npm start` would, and waits
 * until /health answers 200. The service migrates its database itself.
 */
export async function startService(
  repoRoot: string,
  databaseUrl: string,
  redisUrl: string | undefined,
  /** Settings of this run (RETENTION_*...), over the bench's own. */
  extraEnv: Record<string, string> = {},
): Promise<Service> {
  const main = join(repoRoot, 'dist', 'main.js');
  if (!existsSync(main)) throw new BenchError(`${main} is missing: run npm run build first`);
  const port = await freePort();
  const adminToken = randomBytes(24).toString('base64url');
  const keyPrefix = `bench-${randomBytes(4).toString('hex')}:`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    ADMIN_TOKEN: adminToken,
    LOG_LEVEL: 'warn',
    SEED_DEMO_DATA: 'false',
    // Its own key space, so a shared Redis holds no entries of another run or service.
    CACHE_KEY_PREFIX: keyPrefix,
    // The load comes from one address, far over a client's budget: measured unlimited unless asked.
    RATE_LIMIT_PUBLIC: process.env.RATE_LIMIT_PUBLIC ?? 'off',
    ...extraEnv,
  };
  if (redisUrl === undefined) delete env.REDIS_URL;
  else env.REDIS_URL = redisUrl;

  let output = '';
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each service run, under <dir>/<its checkout's name>.
  const profileDir = process.env.BENCH_CPU_PROF;
  const profile =
    profileDir === undefined || profileDir === ''
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, basename(repoRoot))}`];
  const child: ChildProcess = spawn(process.execPath, [...profile, main], {
    // A scratch working directory, so no developer .env changes the measured service.
    cwd: mkdtempSync(join(tmpdir(), 'saga-bench-')),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));

  /** Where the run's Redis keys still are (cleared once they are deleted). */
  let keysIn = redisUrl;
  const stop = async (): Promise<void> => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    const url = keysIn;
    keysIn = undefined;
    if (url === undefined) return;
    try {
      await deleteCacheKeys(url, keyPrefix);
    } catch (error) {
      process.stderr.write(
        `[bench] could not delete the run's Redis keys (${keyPrefix}*): ${String(error)}\n`,
      );
    }
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (gone) throw new BenchError(`The service exited during start:\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new BenchError(`The service was not healthy within ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    if (await healthy(url)) break;
    await sleep(200);
  }
  // Anything it logs at warn or above during the load is worth showing.
  const relay = (chunk: Buffer): void => {
    const lines = chunk
      .toString()
      .split('\n')
      .filter((line) => line !== '');
    for (const line of lines) process.stderr.write(`[service] ${line}\n`);
  };
  child.stdout?.on('data', relay);
  child.stderr?.on('data', relay);
  return { url, adminToken, pid: child.pid, alive: () => !gone, stop };
}
