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

/** What recording an attempt did. */
export interface RecordedAttempt {
  /** The endpoint's health after a failed attempt. */
  health?: EndpointHealth;
  /**
   * The delivery failed for good with this attempt, and so had every other delivery of its
   * event: no endpoint will take the event any more (unless re-sent).
   */
  eventGaveUp: boolean;
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
   * Records one attempt and its consequences in one transaction: the attempt row; the delivery
   * delivered, due again after `retryInMs`, or failed (`retryInMs` undefined); the endpoint's
   * failure streak, which disables it once failing for longer than `disableAfterMs`. A delivery
   * no longer leased to `owner` (taken over meanwhile) keeps its state; the attempt is kept.
   */
  async recordAttempt(
    owner: string,
    delivery: ClaimedDelivery,
    result: AttemptResult,
    retryInMs: number | undefined,
    disableAfterMs: number | undefined,
  ): Promise<RecordedAttempt> {
    const delivered = result.outcome === 'delivered';
    return this.tx.run(async (): Promise<RecordedAttempt> => {
      await this.tx.query(
        `INSERT INTO webhook_attempts (delivery_id, status_code, latency_ms, response_excerpt, error)
         VALUES ($1, $2, $3, $4, $5)`,
        [delivery.id, result.statusCode, result.latencyMs, result.excerpt, result.error],
      );
      const [finished] = await this.tx.query<{ event_gave_up: boolean }>(
        `UPDATE webhook_deliveries d SET
           attempts = attempts + 1,
           status = CASE WHEN $3 THEN 'delivered' WHEN $4::int IS NULL THEN 'failed'
                         ELSE 'pending' END,
           next_attempt_at = CASE WHEN $4::int IS NULL THEN next_attempt_at
                                  ELSE now() + $4::int * interval '1 millisecond' END,
           finished_at = CASE WHEN $3 OR $4::int IS NULL THEN now() END,
           last_status_code = $5, last_error = $6,
           lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND lease_owner = $2 AND status = 'pending'
         RETURNING d.status = 'failed' AND NOT EXISTS (
           SELECT 1 FROM webhook_deliveries o
           WHERE o.event_id = d.event_id AND o.id <> d.id AND o.status <> 'failed') AS event_gave_up`,
        [
          delivery.id,
          owner,
          delivered,
          delivered ? null : (retryInMs ?? null),
          result.statusCode,
          result.error,
        ],
      );
      if (delivered) {
        await this.tx.query(
          `UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL
           WHERE id = $1 AND (consecutive_failures > 0 OR failing_since IS NOT NULL)`,
          [delivery.endpointId],
        );
        return { eventGaveUp: false };
      }
      const eventGaveUp = finished?.event_gave_up ?? false;
      const [health] = await this.tx.query<{ enabled: boolean; consecutive_failures: number }>(
        `UPDATE webhook_endpoints SET
           consecutive_failures = consecutive_failures + 1,
           failing_since = COALESCE(failing_since, now()),
           enabled = enabled AND NOT COALESCE(failing_since <= now() - $2::bigint * interval '1 millisecond', false),
           disabled_reason = CASE
             WHEN enabled AND COALESCE(failing_since <= now() - $2::bigint * interval '1 millisecond', false)
             THEN 'failing since ' || to_char(failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
             ELSE disabled_reason END
         WHERE id = $1
         RETURNING enabled, consecutive_failures`,
        [delivery.endpointId, disableAfterMs ?? null],
      );
      return health === undefined
        ? { eventGaveUp }
        : {
            health: { enabled: health.enabled, consecutiveFailures: health.consecutive_failures },
            eventGaveUp,
          };
    });
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
