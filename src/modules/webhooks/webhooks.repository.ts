import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import { NOTIFICATION_REQUESTED, notificationIdOf } from '../notifications/notification-delivery';
import type { AttemptResult } from './webhook-sender';

/** A webhook endpoint as stored (the secret included: it is needed to sign). */
export interface EndpointRow {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  secret: string;
  enabled: boolean;
  disabled_reason: string | null;
  consecutive_failures: number;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface EndpointChanges {
  url?: string;
  events?: string[];
  description?: string;
  enabled?: boolean;
}

/** A delivery leased to this instance, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  body: string;
  traceParent: string | null;
  /** Attempts made before this one. */
  attempts: number;
  url: string;
  secret: string;
  /** The notification it carries (a notification.requested event's delivery). */
  notificationId?: string;
}

export interface AttemptRow {
  attempted_at: Date;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
  attempt_log: AttemptRow[];
}

/** What happened to an endpoint with a failed attempt. */
export interface EndpointHealth {
  enabled: boolean;
  consecutiveFailures: number;
}

/** One attempt to record: the delivery, how it went, and when to try again (never: undefined). */
export interface AttemptToRecord {
  delivery: ClaimedDelivery;
  result: AttemptResult;
  retryInMs: number | undefined;
}

/** What recording a batch of attempts did. */
export interface RecordedAttempts {
  /** The health of each endpoint with a failed attempt in the batch, after it. */
  endpoints: (EndpointHealth & { endpointId: string })[];
  /**
   * Events whose every delivery has now failed for good: no endpoint will take them any more
   * (unless re-sent).
   */
  eventsGaveUp: string[];
}

/**
 * Each endpoint's failure streak over a batch, its attempts in order: whether one was delivered
 * (the streak starts again there) and how many failed after the last delivered one.
 */
export function streaks(
  attempts: readonly Pick<AttemptToRecord, 'delivery' | 'result'>[],
): { id: string; reset: boolean; failures: number }[] {
  const byEndpoint = new Map<string, { id: string; reset: boolean; failures: number }>();
  for (const { delivery, result } of attempts) {
    const streak = byEndpoint.get(delivery.endpointId) ?? {
      id: delivery.endpointId,
      reset: false,
      failures: 0,
    };
    if (result.outcome === 'delivered') {
      streak.reset = true;
      streak.failures = 0;
    } else {
      streak.failures += 1;
    }
    byEndpoint.set(delivery.endpointId, streak);
  }
  return [...byEndpoint.values()];
}

const ENDPOINT_COLUMNS = `id, url, events, description, secret, enabled, disabled_reason,
  consecutive_failures, failing_since, created_at, updated_at`;

/** The webhook endpoints, their deliveries and attempts, and the fan-out of integration events. */
@Injectable()
export class WebhooksRepository {
  constructor(private readonly tx: TransactionHost) {}

  async createEndpoint(
    url: string,
    events: string[],
    description: string | null,
    secret: string,
  ): Promise<EndpointRow> {
    const [row] = await this.tx.query<EndpointRow>(
      `INSERT INTO webhook_endpoints (url, events, description, secret) VALUES ($1, $2, $3, $4)
       RETURNING ${ENDPOINT_COLUMNS}`,
      [url, events, description, secret],
    );
    return row;
  }

  listEndpoints(): Promise<EndpointRow[]> {
    return this.tx.query<EndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id`,
    );
  }

  async findEndpoint(id: string): Promise<EndpointRow | undefined> {
    const [row] = await this.tx.query<EndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1`,
      [id],
    );
    return row;
  }

  /** Applies the changes given; enabling an endpoint again forgets its failures. */
  async updateEndpoint(id: string, changes: EndpointChanges): Promise<EndpointRow | undefined> {
    const [row] = await this.tx.query<EndpointRow>(
      `UPDATE webhook_endpoints SET
         url = COALESCE($2, url),
         events = COALESCE($3, events),
         description = CASE WHEN $4::boolean THEN $5 ELSE description END,
         enabled = COALESCE($6, enabled),
         disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason
                                WHEN $6 THEN NULL ELSE 'disabled by an admin' END,
         consecutive_failures = CASE WHEN $6 AND NOT enabled THEN 0 ELSE consecutive_failures END,
         failing_since = CASE WHEN $6 AND NOT enabled THEN NULL ELSE failing_since END,
         updated_at = now()
       WHERE id = $1
       RETURNING ${ENDPOINT_COLUMNS}`,
      [
        id,
        changes.url ?? null,
        changes.events ?? null,
        changes.description !== undefined,
        changes.description === '' ? null : (changes.description ?? null),
        changes.enabled ?? null,
      ],
    );
    return row;
  }

  async rotateSecret(id: string, secret: string): Promise<EndpointRow | undefined> {
    const [row] = await this.tx.query<EndpointRow>(
      `UPDATE webhook_endpoints SET secret = $2, updated_at = now() WHERE id = $1
       RETURNING ${ENDPOINT_COLUMNS}`,
      [id, secret],
    );
    return row;
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    const rows = await this.tx.query('DELETE FROM webhook_endpoints WHERE id = $1 RETURNING 1', [
      id,
    ]);
    return rows.length > 0;
  }

  /** A delivery of an event that is no integration event (the endpoint's test), due now. */
  async enqueue(
    endpointId: string,
    eventId: string,
    type: string,
    body: Record<string, unknown>,
  ): Promise<string> {
    const [row] = await this.tx.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload)
       VALUES ($1, $2, $3, $4) RETURNING id`,
      [endpointId, eventId, type, body],
    );
    return row.id;
  }

  /**
   * Fans up to `limit` integration events not yet handed to the webhooks out into one delivery
   * per enabled endpoint subscribed to the type (registered by the time it occurred), and marks
   * them handed over, in one statement. SKIP LOCKED lets instances fan out side by side.
   */
  async fanOut(
    limit: number,
  ): Promise<{ events: number; deliveries: number; unsubscribedNotifications: string[] }> {
    const [row] = await this.tx.query<{
      events: number;
      deliveries: number;
      unsubscribed: string[];
    }>(
      `WITH ev AS (
         SELECT seq, id, type, transaction_id, occurred_at, data, trace_parent
         FROM integration_events WHERE webhooks_at IS NULL
         ORDER BY seq LIMIT $1
         FOR UPDATE SKIP LOCKED
       ), fanned AS (
         INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload, trace_parent,
                                         created_at)
         SELECT w.id, ev.id, ev.type,
                jsonb_build_object('id', ev.id, 'type', ev.type,
                  'occurredAt', to_char(ev.occurred_at AT TIME ZONE 'UTC',
                                        'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'transactionId', ev.transaction_id, 'data', ev.data),
                ev.trace_parent, clock_timestamp()
         FROM ev JOIN webhook_endpoints w
           ON w.enabled AND ev.type = ANY(w.events) AND w.created_at <= ev.occurred_at
         ORDER BY ev.seq
         ON CONFLICT (endpoint_id, event_id) DO NOTHING
         RETURNING 1
       ), marked AS (
         UPDATE integration_events e SET webhooks_at = now() FROM ev WHERE e.seq = ev.seq
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM marked)::int AS events,
              (SELECT count(*) FROM fanned)::int AS deliveries,
              ARRAY(SELECT ev.data->>'notificationId' FROM ev
                    WHERE ev.type = $2 AND ev.data ? 'notificationId' AND NOT EXISTS (
                      SELECT 1 FROM webhook_endpoints w
                      WHERE w.enabled AND ev.type = ANY(w.events)
                        AND w.created_at <= ev.occurred_at)) AS unsubscribed`,
      [limit, NOTIFICATION_REQUESTED],
    );
    return {
      events: row.events,
      deliveries: row.deliveries,
      unsubscribedNotifications: row.unsubscribed,
    };
  }

  /**
   * Leases up to `limit` due deliveries of enabled endpoints to `owner`, never more per endpoint
   * than `perEndpoint` in flight over all instances (claims are serialized by an advisory lock
   * for that count to hold), so that a slow endpoint only holds back its own deliveries.
   */
  async claim(
    owner: string,
    leaseMs: number,
    limit: number,
    perEndpoint: number,
  ): Promise<ClaimedDelivery[]> {
    const rows = await this.tx.run(async () => {
      await this.tx.query(`SELECT pg_advisory_xact_lock(hashtext('webhook_deliveries.claim'))`);
      return this.tx.query<{
        id: string;
        endpoint_id: string;
        event_id: string;
        body: string;
        trace_parent: string | null;
        attempts: number;
        url: string;
        secret: string;
        event_type: string;
      }>(
        `WITH picked AS (
           SELECT due.id FROM webhook_endpoints w
           CROSS JOIN LATERAL (
             SELECT d.id FROM webhook_deliveries d
             WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= now()
               AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
             ORDER BY d.next_attempt_at
             LIMIT GREATEST(0, $4 - (
               SELECT count(*) FROM webhook_deliveries l
               WHERE l.endpoint_id = w.id AND l.status = 'pending'
                 AND l.lease_expires_at IS NOT NULL AND l.lease_expires_at >= now()))
             FOR UPDATE SKIP LOCKED
           ) due
           WHERE w.enabled
           LIMIT $3
         )
         UPDATE webhook_deliveries d SET lease_owner = $1,
           lease_expires_at = now() + $2::int * interval '1 millisecond'
         FROM webhook_endpoints w
         WHERE d.id IN (SELECT id FROM picked) AND w.id = d.endpoint_id
         RETURNING d.id, d.endpoint_id, d.event_id, d.payload::text AS body, d.trace_parent,
                   d.attempts, w.url, w.secret, d.event_type`,
        [owner, leaseMs, limit, perEndpoint],
      );
    });
    return rows.map((row) => {
      const delivery: ClaimedDelivery = {
        id: row.id,
        endpointId: row.endpoint_id,
        eventId: row.event_id,
        body: row.body,
        traceParent: row.trace_parent,
        attempts: row.attempts,
        url: row.url,
        secret: row.secret,
      };
      const notificationId =
        row.event_type === NOTIFICATION_REQUESTED
          ? notificationIdOf(JSON.parse(row.body) as { type: string; data?: unknown })
          : undefined;
      if (notificationId !== undefined) delivery.notificationId = notificationId;
      return delivery;
    });
  }

  /**
   * Records a batch of attempts and their consequences (inside the caller's transaction, a few
   * statements whatever the batch's size): the attempt rows; each delivery delivered, due again
   * after its `retryInMs`, or failed (`retryInMs` undefined); each endpoint's failure streak, in
   * the order of its attempts, which disables it once failing for longer than `disableAfterMs`.
   * A delivery no longer leased to `owner` (taken over meanwhile) keeps its state; its attempt
   * is kept.
   */
  async recordAttempts(
    owner: string,
    attempts: readonly AttemptToRecord[],
    disableAfterMs: number | undefined,
  ): Promise<RecordedAttempts> {
    if (attempts.length === 0) return { endpoints: [], eventsGaveUp: [] };
    const delivered = (a: AttemptToRecord) => a.result.outcome === 'delivered';
    await this.tx.query(
      `INSERT INTO webhook_attempts (delivery_id, status_code, latency_ms, response_excerpt, error)
       SELECT r.id, r.status_code, r.latency_ms, r.excerpt, r.error
       FROM jsonb_to_recordset($1::jsonb) AS r(ord int, id uuid, status_code int, latency_ms int,
                                              excerpt text, error text)
       ORDER BY r.ord`,
      [
        JSON.stringify(
          attempts.map((a, ord) => ({
            ord,
            id: a.delivery.id,
            status_code: a.result.statusCode,
            latency_ms: a.result.latencyMs,
            excerpt: a.result.excerpt,
            error: a.result.error,
          })),
        ),
      ],
    );
    const finished = await this.tx.query<{ event_id: string; status: string }>(
      `UPDATE webhook_deliveries d SET
         attempts = d.attempts + 1,
         status = CASE WHEN r.delivered THEN 'delivered' WHEN r.retry_ms IS NULL THEN 'failed'
                       ELSE 'pending' END,
         next_attempt_at = CASE WHEN r.delivered OR r.retry_ms IS NULL THEN d.next_attempt_at
                                ELSE now() + r.retry_ms * interval '1 millisecond' END,
         finished_at = CASE WHEN r.delivered OR r.retry_ms IS NULL THEN now() END,
         last_status_code = r.status_code, last_error = r.error,
         lease_owner = NULL, lease_expires_at = NULL
       FROM jsonb_to_recordset($2::jsonb) AS r(id uuid, delivered boolean, retry_ms int,
                                               status_code int, error text)
       WHERE d.id = r.id AND d.lease_owner = $1 AND d.status = 'pending'
       RETURNING d.event_id, d.status`,
      [
        owner,
        JSON.stringify(
          attempts.map((a) => ({
            id: a.delivery.id,
            delivered: delivered(a),
            retry_ms: delivered(a) ? null : (a.retryInMs ?? null),
            status_code: a.result.statusCode,
            error: a.result.error,
          })),
        ),
      ],
    );
    // Read after the update, so that two deliveries of one event failing in this batch see
    // each other.
    const failedEvents = [
      ...new Set(finished.filter((row) => row.status === 'failed').map((row) => row.event_id)),
    ];
    const eventsGaveUp =
      failedEvents.length === 0
        ? []
        : (
            await this.tx.query<{ event_id: string }>(
              `SELECT event_id FROM webhook_deliveries WHERE event_id = ANY($1::uuid[])
               GROUP BY event_id HAVING bool_and(status = 'failed')`,
              [failedEvents],
            )
          ).map((row) => row.event_id);
    const endpoints = await this.tx.query<{
      id: string;
      enabled: boolean;
      consecutive_failures: number;
    }>(
      `UPDATE webhook_endpoints w SET
         consecutive_failures = CASE WHEN r.reset THEN r.failures
                                     ELSE w.consecutive_failures + r.failures END,
         failing_since = CASE WHEN r.failures = 0 THEN NULL WHEN r.reset THEN now()
                              ELSE COALESCE(w.failing_since, now()) END,
         enabled = w.enabled AND NOT (NOT r.reset AND r.failures > 0
           AND COALESCE(w.failing_since <= now() - $2::bigint * interval '1 millisecond', false)),
         disabled_reason = CASE
           WHEN w.enabled AND NOT r.reset AND r.failures > 0
                AND COALESCE(w.failing_since <= now() - $2::bigint * interval '1 millisecond', false)
           THEN 'failing since ' || to_char(w.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           ELSE w.disabled_reason END
       FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, reset boolean, failures int)
       WHERE w.id = r.id
         AND (r.failures > 0 OR w.consecutive_failures > 0 OR w.failing_since IS NOT NULL)
       RETURNING w.id, w.enabled, w.consecutive_failures`,
      [JSON.stringify(streaks(attempts)), disableAfterMs ?? null],
    );
    return {
      endpoints: endpoints
        .filter((row) => attempts.some((a) => a.delivery.endpointId === row.id && !delivered(a)))
        .map((row) => ({
          endpointId: row.id,
          enabled: row.enabled,
          consecutiveFailures: row.consecutive_failures,
        })),
      eventsGaveUp,
    };
  }

  /** An endpoint's latest deliveries, newest first, each with its latest attempts. */
  listDeliveries(endpointId: string, limit: number, status?: string): Promise<DeliveryRow[]> {
    return this.tx.query<DeliveryRow>(
      `SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts,
              d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.finished_at,
              COALESCE((SELECT jsonb_agg(a ORDER BY a.attempted_at) FROM (
                SELECT attempted_at, status_code, latency_ms, response_excerpt, error
                FROM webhook_attempts WHERE delivery_id = d.id ORDER BY id DESC LIMIT 20) a),
                '[]'::jsonb) AS attempt_log
       FROM webhook_deliveries d
       WHERE d.endpoint_id = $1 AND ($3::text IS NULL OR d.status = $3)
       ORDER BY d.created_at DESC, d.id DESC
       LIMIT $2`,
      [endpointId, limit, status ?? null],
    );
  }

  /**
   * Makes a delivery due now with a fresh schedule (delivered or failed: sent again). An attempt
   * in flight keeps its lease and records its outcome as usual.
   */
  async resend(deliveryId: string): Promise<{ id: string; endpoint_id: string } | undefined> {
    const [row] = await this.tx.query<{ id: string; endpoint_id: string }>(
      `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
         finished_at = NULL
       WHERE id = $1
       RETURNING id, endpoint_id`,
      [deliveryId],
    );
    return row;
  }

  /** Every failed delivery of an endpoint due again now, with a fresh schedule. */
  async resendFailed(endpointId: string): Promise<number> {
    const rows = await this.tx.query(
      `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
         finished_at = NULL
       WHERE endpoint_id = $1 AND status = 'failed' RETURNING 1`,
      [endpointId],
    );
    return rows.length;
  }

  /** Enabled endpoints whose latest attempts failed. */
  async failingEndpoints(): Promise<number> {
    const row = await this.tx.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM webhook_endpoints WHERE enabled AND failing_since IS NOT NULL`,
    );
    return row?.n ?? 0;
  }
}
