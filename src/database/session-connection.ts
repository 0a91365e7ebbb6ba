import { Client } from 'pg';

/**
 * A connection of its own, outside the pool, for what lasts as long as the process: an advisory
 * lock held on a name (released by the server when the process dies, however it dies) and
 * LISTEN/NOTIFY between the instances sharing the database.
 */
export class SessionConnection {
  private readonly client: Client;
  private readonly listeners = new Map<string, (payload: string) => void>();
  private closed = false;

  constructor(url: string, onError: (error: Error) => void) {
    this.client = new Client({
      connectionString: url,
      application_name: 'purchase-saga-service:session',
      // A server that does not answer is given up on, and tried again by the owner.
      connectionTimeoutMillis: 10_000,
    });
    this.client.on('error', (error) => {
      if (!this.closed) onError(error);
    });
    this.client.on('notification', ({ channel, payload }) => {
      this.listeners.get(channel)?.(payload ?? '');
    });
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  /**
   * Takes the advisory lock of `name` for this session, unless another session holds it. Names
   * share PostgreSQL's two-key space under `scope` (apart from the migrations' one-key lock).
   */
  async tryLock(scope: string, name: string): Promise<boolean> {
    const { rows } = await this.client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked',
      [scope, name],
    );
    return rows[0]?.locked === true;
  }

  /** Calls `listener` with the payload of every notification on `channel`. */
  async listen(channel: string, listener: (payload: string) => void): Promise<void> {
    this.listeners.set(channel, listener);
    // A channel is an identifier, not a value: quoted, it cannot be a parameter.
    await this.client.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.client.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  /** Runs SQL outside any transaction (VACUUM cannot run inside one). */
  async query<T extends object>(sql: string, params: unknown[] = []): Promise<T[]> {
    const { rows } = await this.client.query<T>(sql, params);
    return rows;
  }

  /** Ends the session: its locks are released and its LISTENs dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.end().catch(() => undefined);
  }
}
