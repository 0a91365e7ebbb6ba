import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { ADMIN_TOKEN } from './test-app';

export interface ServiceProcess {
  url: string;
  http: TestAgent;
  process: ChildProcess;
  /** Everything the process printed, for diagnosing a failed test. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

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

/** Starts the service as a real process (as `npm start` would) and waits until it is healthy. */
export async function startService(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const main = process.env.TEST_SERVICE_MAIN;
  if (main === undefined)
    throw new Error('TEST_SERVICE_MAIN is not set: run the tests through jest');
  const port = env.PORT ?? String(await freePort());
  const host = env.HOST ?? '127.0.0.1';
  let output = '';
  const child = spawn(process.execPath, [main], {
    // A scratch working directory, so no developer .env is read.
    cwd: mkdtempSync(join(tmpdir(), 'saga-service-')),
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      ADMIN_TOKEN,
      SEED_DEMO_DATA: 'true',
      HOST: host,
      PORT: port,
      DATABASE_URL: databaseUrl,
      // Suites load the service from one address: only the rate limit suite sets budgets.
      RATE_LIMIT_REPORTS: 'off',
      RATE_LIMIT_PUBLIC: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://${host}:${port}`;
  const deadline = Date.now() + 60_000;
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`The service exited during start:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The service did not become healthy:\n${output}`);
    }
    const healthy = await fetch(`${url}/health`)
      .then((res) => res.ok)
      .catch(() => false);
    if (healthy) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    http: request(url),
    process: child,
    output: () => output,
    exited,
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
