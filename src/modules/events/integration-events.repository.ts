import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import type { StreamCursor } from './integration-event';

/** The broker's cursor in `relay_cursors`. */
const SINK = 'jetstream';

/** What waits to be relayed: how many events, and how old the oldest is. */
export interface RelayBacklog {
  backlog: number;
  /** Seconds since the oldest event not yet relayed was written; 0 when none waits. */
  lagSeconds: number;
}

/**
 * The broker relay's progress over the integration events' stream (EventStream): its cursor,
 * held by one instance at a time under a lease, and moved past each batch it published.
 */
@Injectable()
export class IntegrationEventsRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Leases the relay's cursor to `owner` for `leaseMs` (or renews its lease) and answers where
   * it stands; undefined while another instance holds it.
   */
  async lease(owner: string, leaseMs: number): Promise<StreamCursor | undefined> {
    const [row] = await this.tx.query<{ tx: string; seq: string }>(
      `UPDATE relay_cursors SET owner = $2,
         expires_at = now() + $3::int * interval '1 millisecond'
       WHERE sink = $1 AND (owner = $2 OR owner IS NULL OR expires_at < now())
       RETURNING stream_tx::text AS tx, stream_seq::text AS seq`,
      [SINK, owner, leaseMs],
    );
    return row;
  }

  /**
   * Moves the cursor from `from` to `to` and renews the lease, in the caller's transaction;
   * false, and nothing changes, unless `owner` still holds it at `from`.
   */
  async advance(
    owner: string,
    from: StreamCursor,
    to: StreamCursor,
    leaseMs: number,
  ): Promise<boolean> {
    const rows = await this.tx.query(
      `UPDATE relay_cursors SET stream_tx = $5::xid8, stream_seq = $6::bigint,
         expires_at = now() + $7::int * interval '1 millisecond'
       WHERE sink = $1 AND owner = $2 AND stream_tx = $3::xid8 AND stream_seq = $4::bigint
       RETURNING 1`,
      [SINK, owner, from.tx, from.seq, to.tx, to.seq, leaseMs],
    );
    return rows.length > 0;
  }

  /** Lets the cursor go (at shutdown): another instance takes it at once. */
  async release(owner: string): Promise<void> {
    await this.tx.query(
      `UPDATE relay_cursors SET owner = NULL, expires_at = NULL WHERE sink = $1 AND owner = $2`,
      [SINK, owner],
    );
  }

  /** How much waits to be relayed: the events past the cursor (an index range). */
  async backlog(): Promise<RelayBacklog> {
    const row = await this.tx.one<{ backlog: number; lag: number | null }>(
      `SELECT count(*)::int AS backlog,
              extract(epoch FROM now() - min(e.occurred_at))::float8 AS lag
       FROM relay_cursors c
       JOIN integration_events e ON (e.tx, e.seq) > (c.stream_tx, c.stream_seq)
       WHERE c.sink = $1`,
      [SINK],
    );
    return { backlog: row?.backlog ?? 0, lagSeconds: Math.max(0, row?.lag ?? 0) };
  }
}
