import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../config/configuration';
import { JobsTransactionHost, ReportingTransactionHost } from '../../database/work-pools';
import { type SagaStatus, settledCondition } from '../saga/core/saga';

/**
 * Where a pass over saga_states has got to: rows are taken in (created_at, transaction_id).
 * The time is PostgreSQL's own text of it, to the microsecond (a Date would cut it to the
 * millisecond, and the pass would take the same row again).
 */
export interface SagaCursor {
  createdAt: string;
  transactionId: string;
}

export const START: SagaCursor = { createdAt: '-infinity', transactionId: '' };

export interface PickedSaga {
  transaction_id: string;
  version: number;
  /** created_at as text: see SagaCursor. */
  created_at: string;
}

/** What one slice of removed sagas took with it, row counts per table. */
export interface RemovedRows {
  sagas: number;
  steps: number;
  logs: number;
  notifications: number;
  outboxEvents: number;
  integrationEvents: number;
}

/** What a run would remove now (a dry run), counted without taking anything. */
export interface DueCounts {
  /** Per status, those with any. */
  sagas: Partial<Record<SagaStatus, number>>;
  oldestSaga: Date | null;
  outboxEvents: number;
  idempotencyKeys: number;
}

/** The ids of outbox events still to be published: neither they nor their sagas may go. */
/**
 * An integration event (`i`) a sink still has to take: the broker relay's when NATS is
 * configured (its cursor has not passed it); the webhooks' when they are on and the stream of an
 * enabled endpoint subscribed to it has not passed it yet (the parameters hold those two flags).
 */
function eventPending(relayed: string, webhooks: string): string {
  return `((${relayed}::boolean AND EXISTS (
    SELECT 1 FROM relay_cursors c
    WHERE c.sink = 'jetstream' AND (i.tx, i.seq) > (c.stream_tx, c.stream_seq)))
  OR (${webhooks}::boolean AND EXISTS (
    SELECT 1 FROM webhook_endpoints w
    WHERE w.enabled AND i.type = ANY(w.events) AND (i.tx, i.seq) > (w.stream_tx, w.stream_seq))))`;
}

const PENDING_EVENT_IDS = 'SELECT unnest(p.event_ids) AS id FROM outbox_pending p';
/** The sagas of those events. */
const PENDING_SAGAS = `SELECT pe.aggregate_id FROM outbox_events pe WHERE pe.id IN (${PENDING_EVENT_IDS})`;

/**
 * The retention job's SQL. Every statement takes a bounded slice (LIMIT), keyed on an index:
 * saga_states by created_at, outbox_events by id (which grows with time).
 */
@Injectable()
export class RetentionRepository {
  /** Whether the broker relay and the webhooks (their cursors) take the events. */
  private readonly relayed: boolean;
  private readonly webhooks: boolean;

  constructor(
    private readonly tx: JobsTransactionHost,
    /** The policy's figures in the admin statistics. */
    private readonly reporting: ReportingTransactionHost,
    config: ConfigService<AppConfig, true>,
  ) {
    const events = config.get('events', { infer: true });
    this.relayed = events.nats !== undefined;
    this.webhooks = events.webhooks.enabled;
  }

  /**
   * Inside a transaction: locks up to `limit` settled sagas created and last changed before
   * `cutoff`, after `from`, oldest first. Sagas locked by someone else are passed over.
   */
  pickSagas(cutoff: Date, from: SagaCursor, limit: number): Promise<PickedSaga[]> {
    return this.tx.query<PickedSaga>(
      `SELECT s.transaction_id, s.version, s.created_at::text AS created_at FROM saga_states s
       WHERE s.created_at < $1 AND s.updated_at < $1 AND ${settledCondition('s')}
         AND s.created_at >= $2::timestamptz
         AND (s.created_at, s.transaction_id) > ($2::timestamptz, $3)
       ORDER BY s.created_at, s.transaction_id
       LIMIT $4
       FOR UPDATE OF s SKIP LOCKED`,
      [cutoff, from.createdAt, from.transactionId, limit],
    );
  }

  /** Of these sagas, those with an outbox or integration event not yet published. */
  async withPendingEvents(transactionIds: string[]): Promise<Set<string>> {
    const rows = await this.tx.query<{ aggregate_id: string }>(
      `SELECT DISTINCT e.aggregate_id FROM outbox_events e
       WHERE e.aggregate_id = ANY($1) AND e.id IN (${PENDING_EVENT_IDS})
       UNION
       SELECT DISTINCT i.transaction_id FROM integration_events i
       WHERE i.transaction_id = ANY($1) AND ${eventPending('$2', '$3')}`,
      [transactionIds, this.relayed, this.webhooks],
    );
    return new Set(rows.map((row) => row.aggregate_id));
  }

  /** Each saga as one archive line: its row, steps, outbox and integration events, log, notifications. */
  async archiveLines(transactionIds: string[]): Promise<string[]> {
    const rows = await this.tx.query<{ line: string }>(
      `SELECT jsonb_build_object(
         'saga', to_jsonb(s),
         'steps', COALESCE((SELECT jsonb_agg(to_jsonb(r) ORDER BY r.id) FROM saga_step_results r
                            WHERE r.transaction_id = s.transaction_id), '[]'::jsonb),
         'events', COALESCE((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id) FROM outbox_events e
                             WHERE e.aggregate_id = s.transaction_id), '[]'::jsonb),
         'integrationEvents', COALESCE((SELECT jsonb_agg(to_jsonb(i) ORDER BY i.seq)
                                        FROM integration_events i
                                        WHERE i.transaction_id = s.transaction_id), '[]'::jsonb),
         'log', (SELECT to_jsonb(l) FROM transaction_logs l WHERE l.transaction_id = s.transaction_id),
         'notifications', COALESCE((SELECT jsonb_agg(to_jsonb(n) ORDER BY n.created_at, n.notification_id)
                                    FROM notifications n WHERE n.transaction_id = s.transaction_id), '[]'::jsonb)
       )::text AS line
       FROM saga_states s WHERE s.transaction_id = ANY($1)
       ORDER BY s.created_at, s.transaction_id`,
      [transactionIds],
    );
    return rows.map((row) => row.line);
  }

  /**
   * Adds what these sagas add up to, per user and item, to the purged totals, and per user and
   * per item to the user and item totals (in the removal's transaction, so the reconciliation
   * never sees one without the other).
   */
  async rollUp(transactionIds: string[]): Promise<void> {
    await this.tx.query(
      `WITH purged AS (
         SELECT user_id, item_id, count(*) AS sagas,
                count(*) FILTER (WHERE status = 'completed') AS completed_sagas,
                COALESCE(sum(price) FILTER (WHERE status = 'completed'), 0) AS completed_total,
                COALESCE(sum(quantity) FILTER (WHERE status = 'completed'), 0) AS completed_quantity
         FROM saga_states WHERE transaction_id = ANY($1)
         GROUP BY user_id, item_id
       ), pairs AS (
         INSERT INTO saga_purged_totals AS t
           (user_id, item_id, sagas, completed_sagas, completed_total, completed_quantity)
         SELECT * FROM purged
         ON CONFLICT (user_id, item_id) DO UPDATE SET
           sagas = t.sagas + EXCLUDED.sagas,
           completed_sagas = t.completed_sagas + EXCLUDED.completed_sagas,
           completed_total = t.completed_total + EXCLUDED.completed_total,
           completed_quantity = t.completed_quantity + EXCLUDED.completed_quantity,
           updated_at = now()),
       users AS (
         INSERT INTO saga_user_totals AS t (user_id, purged_total)
         SELECT user_id, sum(completed_total) FROM purged GROUP BY user_id
         ON CONFLICT (user_id) DO UPDATE SET purged_total = t.purged_total + EXCLUDED.purged_total)
       INSERT INTO saga_item_totals AS t (item_id, purged_quantity)
       SELECT item_id, sum(completed_quantity) FROM purged GROUP BY item_id
       ON CONFLICT (item_id) DO UPDATE SET
         purged_quantity = t.purged_quantity + EXCLUDED.purged_quantity`,
      [transactionIds],
    );
  }

  /** Deletes these sagas and every row that belongs to them. */
  async removeSagas(transactionIds: string[]): Promise<RemovedRows> {
    const [children] = await this.tx.query<Omit<RemovedRows, 'sagas'>>(
      `WITH steps AS (DELETE FROM saga_step_results WHERE transaction_id = ANY($1) RETURNING 1),
            logs AS (DELETE FROM transaction_logs WHERE transaction_id = ANY($1) RETURNING 1),
            notes AS (DELETE FROM notifications WHERE transaction_id = ANY($1) RETURNING 1),
            events AS (DELETE FROM outbox_events WHERE aggregate_id = ANY($1) RETURNING 1),
            published AS (DELETE FROM integration_events WHERE transaction_id = ANY($1) RETURNING 1)
       SELECT (SELECT count(*) FROM steps)::int AS steps, (SELECT count(*) FROM logs)::int AS logs,
              (SELECT count(*) FROM notes)::int AS notifications,
              (SELECT count(*) FROM events)::int AS "outboxEvents",
              (SELECT count(*) FROM published)::int AS "integrationEvents"`,
      [transactionIds],
    );
    const sagas = await this.tx.query(
      'DELETE FROM saga_states WHERE transaction_id = ANY($1) RETURNING 1',
      [transactionIds],
    );
    return { sagas: sagas.length, ...children };
  }

  /** The first outbox event id created at or after `cutoff`: the slices stop below it. */
  async outboxBoundary(cutoff: Date): Promise<string> {
    const [row] = await this.tx.query<{ id: string }>(
      `SELECT COALESCE(
         (SELECT id FROM outbox_events WHERE created_at >= $1 ORDER BY id LIMIT 1),
         (SELECT max(id) + 1 FROM outbox_events), 0)::text AS id`,
      [cutoff],
    );
    return row.id;
  }

  /**
   * Deletes up to `limit` published outbox events of settled sagas with ids in (after, below),
   * created before `cutoff`; answers the highest id deleted (undefined: none was due).
   */
  async removeOutboxEvents(
    cutoff: Date,
    after: string,
    below: string,
    limit: number,
  ): Promise<{ removed: number; last?: string }> {
    const [row] = await this.tx.query<{ removed: number; last: string | null }>(
      `WITH due AS (
         SELECT e.id FROM outbox_events e
         JOIN saga_states s ON s.transaction_id = e.aggregate_id
         WHERE e.id > $2 AND e.id < $3 AND e.created_at < $1 AND ${settledCondition('s')}
           AND e.id NOT IN (${PENDING_EVENT_IDS})
         ORDER BY e.id LIMIT $4
       ), gone AS (
         DELETE FROM outbox_events WHERE id IN (SELECT id FROM due) RETURNING id
       )
       SELECT count(*)::int AS removed, max(id)::text AS last FROM gone`,
      [cutoff, after, below, limit],
    );
    return { removed: row.removed, last: row.last ?? undefined };
  }

  /**
   * Deletes up to `limit` published integration events written before `cutoff`, with `seq`
   * after `after` (the relay is done with them: the broker keeps its own copy); answers the
   * highest `seq` deleted (undefined: none was due). Unpublished events stay, whatever their age.
   */
  async removeIntegrationEvents(
    cutoff: Date,
    after: string,
    limit: number,
  ): Promise<{ removed: number; last?: string }> {
    const [row] = await this.tx.query<{ removed: number; last: string | null }>(
      `WITH due AS (
         SELECT seq FROM integration_events i
         WHERE seq > $2 AND occurred_at < $1 AND NOT ${eventPending('$4', '$5')}
         ORDER BY seq LIMIT $3
       ), gone AS (
         DELETE FROM integration_events WHERE seq IN (SELECT seq FROM due) RETURNING seq
       )
       SELECT count(*)::int AS removed, max(seq)::text AS last FROM gone`,
      [cutoff, after, limit, this.relayed, this.webhooks],
    );
    return { removed: row.removed, last: row.last ?? undefined };
  }

  /**
   * Deletes up to `limit` webhook deliveries delivered before `cutoff`, their attempts with them
   * (the partial index of delivered ones answers it); answers how many went.
   */
  async removeWebhookDeliveries(cutoff: Date, limit: number): Promise<number> {
    const rows = await this.tx.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries
         WHERE status = 'delivered' AND finished_at < $1
         ORDER BY finished_at LIMIT $2)
       RETURNING 1`,
      [cutoff, limit],
    );
    return rows.length;
  }

  /**
   * Frees the Idempotency-Keys of up to `limit` settled sagas created before `cutoff`, after
   * `from`; answers the last saga freed (undefined: none was due).
   */
  async freeIdempotencyKeys(
    cutoff: Date,
    from: SagaCursor,
    limit: number,
  ): Promise<{ freed: number; last?: SagaCursor }> {
    const [row] = await this.tx.query<{ freed: number; at: string | null; id: string | null }>(
      `WITH due AS (
         SELECT s.transaction_id FROM saga_states s
         WHERE s.idempotency_key IS NOT NULL AND s.created_at < $1 AND ${settledCondition('s')}
           AND s.created_at >= $2::timestamptz
           AND (s.created_at, s.transaction_id) > ($2::timestamptz, $3)
         ORDER BY s.created_at, s.transaction_id LIMIT $4
         FOR UPDATE OF s SKIP LOCKED
       ), freed AS (
         UPDATE saga_states s SET idempotency_key = NULL, request_hash = NULL
         FROM due WHERE s.transaction_id = due.transaction_id
         RETURNING s.transaction_id, s.created_at
       )
       SELECT count(*)::int AS freed,
              (array_agg(created_at::text ORDER BY created_at DESC, transaction_id DESC))[1] AS at,
              (array_agg(transaction_id ORDER BY created_at DESC, transaction_id DESC))[1] AS id
       FROM freed`,
      [cutoff, from.createdAt, from.transactionId, limit],
    );
    if (row.at === null || row.id === null) return { freed: 0 };
    return { freed: row.freed, last: { createdAt: row.at, transactionId: row.id } };
  }

  /** What a run with these cutoffs would remove now. */
  async due(cutoffs: { sagas?: Date; outbox?: Date; idempotency?: Date }): Promise<DueCounts> {
    const counts: DueCounts = { sagas: {}, oldestSaga: null, outboxEvents: 0, idempotencyKeys: 0 };
    if (cutoffs.sagas !== undefined) {
      const rows = await this.tx.query<{ status: SagaStatus; n: number; oldest: Date }>(
        `SELECT s.status, count(*)::int AS n, min(s.created_at) AS oldest FROM saga_states s
         WHERE s.created_at < $1 AND s.updated_at < $1 AND ${settledCondition('s')}
           AND s.transaction_id NOT IN (${PENDING_SAGAS})
         GROUP BY s.status`,
        [cutoffs.sagas],
      );
      for (const row of rows) {
        counts.sagas[row.status] = row.n;
        if (counts.oldestSaga === null || row.oldest < counts.oldestSaga) {
          counts.oldestSaga = row.oldest;
        }
      }
    }
    if (cutoffs.outbox !== undefined) {
      const [row] = await this.tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox_events e
         JOIN saga_states s ON s.transaction_id = e.aggregate_id
         WHERE e.created_at < $1 AND ${settledCondition('s')}
           AND e.id NOT IN (${PENDING_EVENT_IDS})
           AND NOT (s.created_at < $2 AND s.updated_at < $2
                    AND s.transaction_id NOT IN (${PENDING_SAGAS}))`,
        // Events of sagas due themselves go with them: counted there.
        [cutoffs.outbox, cutoffs.sagas ?? new Date(0)],
      );
      counts.outboxEvents = row.n;
    }
    if (cutoffs.idempotency !== undefined) {
      const [row] = await this.tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM saga_states s
         WHERE s.idempotency_key IS NOT NULL AND s.created_at < $1 AND ${settledCondition('s')}`,
        [cutoffs.idempotency],
      );
      counts.idempotencyKeys = row.n;
    }
    return counts;
  }

  /** Keeps `run` as the last run, for every instance's statistics. */
  async saveRun(run: unknown): Promise<void> {
    await this.tx.query(
      `INSERT INTO retention_runs (id, run) VALUES (1, $1)
       ON CONFLICT (id) DO UPDATE SET run = EXCLUDED.run, updated_at = now()`,
      [JSON.stringify(run)],
    );
  }

  /** Sagas removed so far, all outcomes together, and the last run (one reporting statement). */
  async progress<T>(): Promise<{ purgedSagas: number; lastRun: T | undefined }> {
    const row = await this.reporting.one<{ n: string; run: T | null }>(
      `SELECT (SELECT COALESCE(sum(sagas), 0)::text FROM saga_purged_totals) AS n,
              (SELECT run FROM retention_runs WHERE id = 1) AS run`,
    );
    return { purgedSagas: Number(row?.n ?? 0), lastRun: row?.run ?? undefined };
  }
}
