import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** PostgreSQL's client tools the backup and restore commands run. */
export type PgTool = 'pg_dump' | 'pg_restore';

export class PgToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PgToolError';
  }
}

export const INSTALL_HINT =
  'Install the PostgreSQL client tools of the server’s major version or newer (15 for the ' +
  'embedded server and docker-compose), e.g. Debian/Ubuntu: `apt-get install postgresql-client-15`, ' +
  'Alpine: `apk add postgresql15-client`, macOS: `brew install libpq`, then put their bin ' +
  'directory on PATH (or set PG_BIN_DIR to it).';

export interface PgConnection {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
  /** libpq's sslmode, when the URL names one. */
  sslMode?: string;
}

/** The parts of a postgres:// URL that libpq's environment variables carry. */
export function connectionOf(url: string): PgConnection {
  const parsed = new URL(url);
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new PgToolError('The database URL must be a postgres:// or postgresql:// URL');
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  const user = decodeURIComponent(parsed.username) || 'postgres';
  return {
    host: parsed.searchParams.get('host') ?? (parsed.hostname || 'localhost'),
    port: parsed.port === '' ? 5432 : Number(parsed.port),
    user,
    password: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
    database: database || user,
    sslMode: parsed.searchParams.get('sslmode') ?? undefined,
  };
}

/**
 * The child's environment: the connection goes in libpq's variables, so that no password ever
 * appears on a command line (where any user of the machine could read it).
 */
export function pgEnvironment(
  connection: PgConnection,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    PGHOST: connection.host,
    PGPORT: String(connection.port),
    PGUSER: connection.user,
    PGDATABASE: connection.database,
  };
  if (connection.password !== undefined) env.PGPASSWORD = connection.password;
  if (connection.sslMode !== undefined) env.PGSSLMODE = connection.sslMode;
  return env;
}

/** Where a connection points, for messages: never the password. */
export function describeConnection(connection: PgConnection): string {
  return `"${connection.database}" on ${connection.host}:${connection.port}`;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a client tool: in PG_BIN_DIR when set, else on PATH, else in Debian's versioned
 * directories (newest first).
 */
export function findPgTool(tool: PgTool, env: NodeJS.ProcessEnv = process.env): string {
  const binDir = env.PG_BIN_DIR?.trim();
  if (binDir !== undefined && binDir !== '') {
    const path = join(binDir, tool);
    if (isExecutable(path)) return path;
    throw new PgToolError(`${tool} was not found in PG_BIN_DIR (${binDir}). ${INSTALL_HINT}`);
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const dir of dirs) {
    const path = join(dir, tool);
    if (isExecutable(path)) return path;
  }
  const debian = '/usr/lib/postgresql';
  try {
    const versions = readdirSync(debian)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const path = join(debian, version, 'bin', tool);
      if (isExecutable(path)) return path;
    }
  } catch {
    // no such directory
  }
  throw new PgToolError(`${tool} was not found on PATH. ${INSTALL_HINT}`);
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a tool with its arguments (never a shell) and collects what it printed. */
export function runTool(path: string, args: string[], env: NodeJS.ProcessEnv): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The major version a tool reports (`pg_dump (PostgreSQL) 15.10` → 15). */
export function parseToolMajor(versionOutput: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(versionOutput);
  return match === null ? undefined : Number(match[1]);
}

export async function toolMajorVersion(path: string): Promise<number | undefined> {
  const result = await runTool(path, ['--version'], process.env);
  return parseToolMajor(result.stdout);
}

/** pg_dump cannot dump a server newer than itself; say so before it fails half-way. */
export function assertToolCanServe(tool: PgTool, toolMajor: number, serverMajor: number): void {
  if (toolMajor < serverMajor) {
    throw new PgToolError(
      `${tool} ${toolMajor} is older than the PostgreSQL ${serverMajor} server. ${INSTALL_HINT}`,
    );
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `2026-11-24T04:30:05.123Z` → `20261124T043005Z`, for file names. */
export function fileTimestamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
}

/** Command-line arguments: positionals, `--flag`, and `--option value` / `--option=value`. */
export function parseArgs(
  argv: readonly string[],
  spec: { flags: readonly string[]; options: readonly string[] },
): { positional: string[]; flags: Set<string>; options: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Set<string>();
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (spec.flags.includes(name) && inline === undefined) {
      flags.add(name);
    } else if (spec.options.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value === '') throw new PgToolError(`--${name} needs a value`);
      options.set(name, value);
    } else {
      throw new PgToolError(`Unknown option ${arg}`);
    }
  }
  return { positional, flags, options };
}
