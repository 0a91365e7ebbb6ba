import { Client } from 'pg';

/** Names the restore command may create or clean: letters, digits, _ and -, as PostgreSQL allows. */
const DATABASE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

export function assertDatabaseName(name: string): void {
  if (!DATABASE_NAME.test(name)) {
    throw new Error(
      `Refusing database name "${name}": use 1-63 letters, digits, _ or -, not starting with a digit`,
    );
  }
}

export function withDatabaseName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;
  return parsed.toString();
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'purchase-saga-admin' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function isMissingDatabase(error: unknown): boolean {
  return (error as { code?: unknown }).code === '3D000';
}

/** The server's major version (150010 → 15). */
export function serverMajorVersion(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ v: string }>(
      "SELECT current_setting('server_version_num') AS v",
    );
    return Math.floor(Number(rows[0].v) / 10_000);
  });
}

/**
 * Creates the URL's database when it does not exist, connecting to the server's `postgres`
 * database to do so. Returns true when it created it.
 */
export async function ensureDatabase(url: string, name: string): Promise<boolean> {
  try {
    await withClient(url, () => Promise.resolve());
    return false;
  } catch (error) {
    if (!isMissingDatabase(error)) throw error;
  }
  assertDatabaseName(name);
  await withClient(withDatabaseName(url, 'postgres'), async (client) => {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  });
  return true;
}

/** Tables of the public schema (where the service keeps everything), by name. */
export function listTables(url: string): Promise<string[]> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    return rows.map((row) => row.tablename);
  });
}

/** Drops everything in the public schema (tables, data, extensions in it) and recreates it empty. */
export async function dropPublicSchema(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('BEGIN');
    await client.query('DROP SCHEMA IF EXISTS public CASCADE');
    await client.query('CREATE SCHEMA public');
    await client.query('COMMIT');
  });
}
