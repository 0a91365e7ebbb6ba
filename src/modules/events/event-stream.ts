import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import {
  EVENT_COLUMNS,
  relayedEvent,
  type EventRow,
  type StreamCursor,
  type StreamEvent,
} from './integration-event';

/**
 * The integration events as one stream, which every sink reads from a cursor of its own (the
 * broker relay's in `relay_cursors`, each webhook endpoint's on its row). An event records the
 * transaction that wrote it (`tx`); the stream's order is (tx, seq), and it shows only the events
 * of transactions older than every one still running (the snapshot's xmin), so that an event
 * committed late can never land behind a cursor that passed its place. The price: a transaction
 * left open for long holds every reader back until it ends.
 */
@Injectable()
export class EventStream {
  constructor(private readonly tx: TransactionHost) {}

  /** The next `limit` events after `cursor`, in stream order. */
  async read(cursor: StreamCursor, limit: number): Promise<StreamEvent[]> {
    const rows = await this.tx.query<EventRow & { tx: string }>(
      `SELECT e.tx::text AS tx, ${EVENT_COLUMNS} FROM integration_events e
       WHERE (e.tx, e.seq) > ($1::xid8, $2::bigint)
         AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY e.tx, e.seq
       LIMIT $3`,
      [cursor.tx, cursor.seq, limit],
    );
    return rows.map((row) => ({ cursor: { tx: row.tx, seq: row.seq }, event: relayedEvent(row) }));
  }
}
