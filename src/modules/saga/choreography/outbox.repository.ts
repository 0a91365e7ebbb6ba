import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../../database/transaction-host';
import type { SagaEventEnvelope } from './saga-events';

/** An event written to the outbox, as its dispatcher needs it: its row's id and the event. */
export interface PendingEvent {
  id: string;
  event_type: string;
  payload: SagaEventEnvelope;
}

export interface OutboxRow extends PendingEvent {
  event_id: string;
  aggregate_id: string;
  created_at: Date;
  /** Published: the event has no pending row left. */
  dispatched: boolean;
}

/**
 * The transactional outbox: `outbox_events` holds each event, written once; `outbox_pending`
 * holds a narrow row per event not yet published (its lease, its attempts), deleted once it is.
 */
@Injectable()
export class OutboxRepository {
  constructor(private readonly tx: TransactionHost) {}

  /**
   * Writes events in the current transaction, pending and leased to their writer for `leaseMs`.
   * Only the rows' ids are read back: answers the events given, in their order, with their ids.
   */
  async insert(
    events: SagaEventEnvelope[],
    owner: string,
    leaseMs: number,
  ): Promise<PendingEvent[]> {
    if (events.length === 0) return [];
    const rows = await this.tx.query<{ id: string; event_id: string }>(
      `WITH inserted AS (
         INSERT INTO outbox_events (event_id, event_type, aggregate_id, payload)
         SELECT e.event_id, e.event_type, e.aggregate_id, e.payload
         FROM jsonb_to_recordset($1::jsonb) AS e(ord int, event_id uuid, event_type varchar, aggregate_id varchar, payload jsonb)
         ORDER BY e.ord
         RETURNING id, event_id
       ),
       leased AS (
         INSERT INTO outbox_pending (id, lease_owner, lease_expires_at)
         SELECT id, $2, now() + $3::int * interval '1 millisecond' FROM inserted
       )
       SELECT id, event_id FROM inserted`,
      [
        JSON.stringify(
          events.map((e, ord) => ({
            ord,
            event_id: e.eventId,
            event_type: e.eventType,
            aggregate_id: e.transactionId,
            payload: e,
          })),
        ),
        owner,
        leaseMs,
      ],
    );
    const idOf = new Map(rows.map((row) => [row.event_id, row.id]));
    return events.map((payload) => {
      const id = idOf.get(payload.eventId);
      // The insert writes every event or fails.
      if (id === undefined) throw new Error(`Outbox event ${payload.eventId} was not written`);
      return { id, event_type: payload.eventType, payload };
    });
  }

  /**
   * Claims pending events whose lease expired (their writer died or gave up), oldest first.
   * SKIP LOCKED and the new lease keep two dispatchers off the same rows.
   */
  claimStale(owner: string, leaseMs: number, limit: number): Promise<OutboxRow[]> {
    return this.tx.query<OutboxRow>(
      `WITH claimed AS (
         UPDATE outbox_pending SET lease_owner = $1,
           lease_expires_at = now() + $2::int * interval '1 millisecond', attempts = attempts + 1
         WHERE id IN (
           SELECT id FROM outbox_pending
           WHERE available_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
           ORDER BY id LIMIT $3
           FOR UPDATE SKIP LOCKED)
         RETURNING id
       )
       SELECT e.id, e.event_id, e.event_type, e.aggregate_id, e.payload, e.created_at,
              false AS dispatched
       FROM claimed c JOIN outbox_events e ON e.id = c.id
       ORDER BY e.id`,
      [owner, leaseMs, limit],
    );
  }

  async markDispatched(ids: string[]): Promise<void> {
    await this.tx.query('DELETE FROM outbox_pending WHERE id = ANY($1::bigint[])', [ids]);
  }

  /** Lets a failed publish be retried after a pause, by any dispatcher. */
  async release(ids: string[], delayMs: number): Promise<void> {
    await this.tx.query(
      `UPDATE outbox_pending SET lease_owner = NULL, lease_expires_at = NULL,
         available_at = now() + $2::int * interval '1 millisecond'
       WHERE id = ANY($1::bigint[])`,
      [ids, delayMs],
    );
  }

  listByAggregate(transactionId: string): Promise<OutboxRow[]> {
    return this.tx.query<OutboxRow>(
      `SELECT e.id, e.event_id, e.event_type, e.aggregate_id, e.payload, e.created_at,
              p.id IS NULL AS dispatched
       FROM outbox_events e LEFT JOIN outbox_pending p ON p.id = e.id
       WHERE e.aggregate_id = $1
       ORDER BY e.id`,
      [transactionId],
    );
  }

  async countPending(): Promise<number> {
    const row = await this.tx.one<{ n: string }>('SELECT count(*)::text AS n FROM outbox_pending');
    return Number(row?.n ?? 0);
  }
}
