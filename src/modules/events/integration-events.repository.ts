import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import { EVENT_COLUMNS, relayedEvent, type EventRow, type RelayedEvent } from './integration-event';

/** What waits to be relayed: how many events, and how old the oldest is. */
export interface RelayBacklog {
  backlog: number;
  /** Seconds since the oldest unpublished event was written; 0 when none waits. */
  lagSeconds: number;
}

/**
 * The integration events' relay state in `integration_events` (the saga's statements write the
 * rows themselves, in the transactions of the changes that cause them).
 */
@Injectable()
export class IntegrationEventsRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Claims up to `limit` unpublished events for `owner`, oldest first, leased for `leaseMs`.
   * An event whose saga has an earlier event leased elsewhere is left alone, so that a saga's
   * events never go out of order across instances; claims are serialized (an advisory lock) for
   * that check to see the other instances' claims, and SKIP LOCKED keeps them off rows being
   * marked.
   */
  async claim(owner: string, leaseMs: number, limit: number): Promise<RelayedEvent[]> {
    const rows = await this.tx.run(async () => {
      await this.tx.query(`SELECT pg_advisory_xact_lock(hashtext('integration_events.claim'))`);
      return this.tx.query<EventRow>(
        `UPDATE integration_events e SET lease_owner = $1,
           lease_expires_at = now() + $2::int * interval '1 millisecond',
           attempts = e.attempts + 1
         WHERE e.seq IN (
           SELECT c.seq FROM integration_events c
           WHERE c.published_at IS NULL
             AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now())
             AND NOT EXISTS (
               SELECT 1 FROM integration_events p
               WHERE p.transaction_id = c.transaction_id AND p.published_at IS NULL
                 AND p.seq < c.seq AND p.lease_expires_at >= now())
           ORDER BY c.seq
           LIMIT $3
           FOR UPDATE SKIP LOCKED)
         RETURNING ${EVENT_COLUMNS}`,
        [owner, leaseMs, limit],
      );
    });
    return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(relayedEvent);
  }

  /**
   * Settles a claim in one statement: `published` are marked published, `unpublished` are let go
   * for the next claim (here or elsewhere). Only rows still leased to `owner` change.
   */
  async settle(owner: string, published: string[], unpublished: string[]): Promise<void> {
    if (published.length === 0 && unpublished.length === 0) return;
    await this.tx.query(
      `UPDATE integration_events SET
         published_at = CASE WHEN seq = ANY($2::bigint[]) THEN now() END,
         lease_owner = NULL, lease_expires_at = NULL
       WHERE seq = ANY($2::bigint[] || $3::bigint[]) AND lease_owner = $1
         AND published_at IS NULL`,
      [owner, published, unpublished],
    );
  }

  /** How much waits to be relayed (the partial index of unpublished events answers it). */
  async backlog(): Promise<RelayBacklog> {
    const row = await this.tx.one<{ backlog: number; lag: number | null }>(
      `SELECT count(*)::int AS backlog,
              extract(epoch FROM now() - min(occurred_at))::float8 AS lag
       FROM integration_events WHERE published_at IS NULL`,
    );
    return { backlog: row?.backlog ?? 0, lagSeconds: Math.max(0, row?.lag ?? 0) };
  }
}
