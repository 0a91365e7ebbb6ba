import { Client } from 'pg';
import { BenchError } from './config';

const NON_TERMINAL = ['pending', 'in_progress', 'compensating'];

/** The URL with another database name: the server's `postgres` one, or a sibling scratch one. */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;
  return parsed.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** Runs `work` with a connected client, and always closes it. */
export async function withClient<T>(url: string, work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

// Identifiers cannot be bind parameters: only plain bench names are accepted, then quoted.
function benchIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name) || !name.includes('bench')) {
    throw new BenchError(
      `Refusing to recreate database "${name}": the bench only drops databases whose name is ` +
        'lower-case letters, digits and _ and contains "bench"',
    );
  }
  return `"${name}"`;
}

/** Drops (if present) and creates an empty database, through the server's `postgres` database. */
export async function recreateDatabase(url: string): Promise<void> {
  const name = benchIdentifier(databaseName(url));
  await withClient(withDatabase(url, 'postgres'), async (db) => {
    await db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await db.query(`CREATE DATABASE ${name}`);
  });
}

export async function dropDatabase(url: string): Promise<void> {
  const name = benchIdentifier(databaseName(url));
  await withClient(withDatabase(url, 'postgres'), async (db) => {
    await db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  });
}

export interface ServerInfo {
  version: string;
  fsync: string;
  synchronousCommit: string;
  maxConnections: string;
}

export async function serverInfo(url: string): Promise<ServerInfo> {
  return withClient(url, async (db) => {
    const { rows } = await db.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name = ANY($1)`,
      [['server_version', 'fsync', 'synchronous_commit', 'max_connections']],
    );
    const setting = (name: string): string => rows.find((r) => r.name === name)?.setting ?? '?';
    return {
      version: setting('server_version'),
      fsync: setting('fsync'),
      synchronousCommit: setting('synchronous_commit'),
      maxConnections: setting('max_connections'),
    };
  });
}

/** Starting balances and stock of the bench's own users and items, as PostgreSQL text. */
export interface Snapshot {
  users: { ids: string[]; balances: string[] };
  items: { ids: string[]; stock: string[] };
}

export async function snapshot(
  db: Client,
  userIds: string[],
  itemIds: string[],
): Promise<Snapshot> {
  const users = await db.query<{ user_id: string; balance: string }>(
    'SELECT user_id, balance::text AS balance FROM users WHERE user_id = ANY($1) ORDER BY user_id',
    [userIds],
  );
  const items = await db.query<{ item_id: string; stock: string }>(
    'SELECT item_id, stock::text AS stock FROM items WHERE item_id = ANY($1) ORDER BY item_id',
    [itemIds],
  );
  if (users.rowCount !== userIds.length || items.rowCount !== itemIds.length) {
    throw new BenchError(
      `Expected ${userIds.length} users and ${itemIds.length} items in the database, found ` +
        `${users.rowCount} and ${items.rowCount}: is DATABASE_URL the service's database?`,
    );
  }
  return {
    users: { ids: users.rows.map((r) => r.user_id), balances: users.rows.map((r) => r.balance) },
    items: { ids: items.rows.map((r) => r.item_id), stock: items.rows.map((r) => r.stock) },
  };
}

export interface InvariantReport {
  pass: boolean;
  /** Sagas of bench users still pending, in progress or compensating after the grace period. */
  unsettled: number;
  balanceMismatches: string[];
  stockMismatches: string[];
  sagasByStatus: Record<string, number>;
  settleMs: number;
}

async function unsettledCount(db: Client, userIds: string[]): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM saga_states WHERE user_id = ANY($1) AND status = ANY($2)',
    [userIds, NON_TERMINAL],
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Conservation over the bench's users and items: start = now + what completed sagas took, in
 * numeric SQL arithmetic; and every saga terminal once in-flight ones had `graceMs` to finish.
 */
export async function checkInvariants(
  db: Client,
  start: Snapshot,
  graceMs: number,
): Promise<InvariantReport> {
  const began = Date.now();
  let unsettled = await unsettledCount(db, start.users.ids);
  while (unsettled > 0 && Date.now() - began < graceMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    unsettled = await unsettledCount(db, start.users.ids);
  }
  const settleMs = Date.now() - began;
  const balances = await db.query<{ user_id: string; expected: string; actual: string }>(
    `WITH start AS (SELECT * FROM unnest($1::text[], $2::numeric[]) AS s(user_id, balance)),
          spent AS (SELECT user_id, sum(price) AS total FROM saga_states
                    WHERE status = 'completed' AND user_id = ANY($1) GROUP BY user_id)
     SELECT s.user_id, s.balance::text AS expected,
            (u.balance + COALESCE(p.total, 0))::text AS actual
     FROM start s JOIN users u ON u.user_id = s.user_id LEFT JOIN spent p ON p.user_id = s.user_id
     WHERE u.balance + COALESCE(p.total, 0) <> s.balance`,
    [start.users.ids, start.users.balances],
  );
  const stock = await db.query<{ item_id: string; expected: string; actual: string }>(
    `WITH start AS (SELECT * FROM unnest($1::text[], $2::int[]) AS s(item_id, stock)),
          sold AS (SELECT item_id, sum(quantity) AS total FROM saga_states
                   WHERE status = 'completed' AND item_id = ANY($1) GROUP BY item_id)
     SELECT s.item_id, s.stock::text AS expected, (i.stock + COALESCE(q.total, 0))::text AS actual
     FROM start s JOIN items i ON i.item_id = s.item_id LEFT JOIN sold q ON q.item_id = s.item_id
     WHERE i.stock + COALESCE(q.total, 0) <> s.stock`,
    [start.items.ids, start.items.stock],
  );
  const statuses = await db.query<{ status: string; n: string }>(
    `SELECT status, count(*)::text AS n FROM saga_states WHERE user_id = ANY($1) GROUP BY status
     ORDER BY status`,
    [start.users.ids],
  );
  const balanceMismatches = balances.rows.map(
    (r) => `user ${r.user_id}: start ${r.expected}, balance + completed sagas ${r.actual}`,
  );
  const stockMismatches = stock.rows.map(
    (r) => `item ${r.item_id}: start ${r.expected}, stock + completed sagas ${r.actual}`,
  );
  return {
    pass: unsettled === 0 && balanceMismatches.length === 0 && stockMismatches.length === 0,
    unsettled,
    balanceMismatches,
    stockMismatches,
    sagasByStatus: Object.fromEntries(statuses.rows.map((r) => [r.status, Number(r.n)])),
    settleMs,
  };
}

/** Ids of existing bench sagas, when the answers collected too few (a service run elsewhere). */
export async function sagaIds(db: Client, userIds: string[], limit: number): Promise<string[]> {
  const { rows } = await db.query<{ transaction_id: string }>(
    'SELECT transaction_id FROM saga_states WHERE user_id = ANY($1) LIMIT $2',
    [userIds, limit],
  );
  return rows.map((r) => r.transaction_id);
}

export async function databaseNow(db: Client): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return rows[0].now;
}

/** Final statuses of the sagas `userIds` started within a time window (of the server's clock). */
export async function sagaStatusesBetween(
  db: Client,
  userIds: string[],
  from: Date,
  to: Date,
): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: string }>(
    `SELECT status, count(*)::text AS n FROM saga_states
     WHERE user_id = ANY($1) AND created_at BETWEEN $2 AND $3 GROUP BY status ORDER BY status`,
    [userIds, from, to],
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Backend process ids serving one database, to sample their CPU time. */
export async function backendPids(db: Client, name: string): Promise<number[]> {
  const { rows } = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [name],
  );
  return rows.map((r) => r.pid);
}
