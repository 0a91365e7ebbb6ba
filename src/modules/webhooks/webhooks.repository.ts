import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import type { RelayedEvent, StreamCursor } from '../events/integration-event';
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

/** An attempt as it counts for its endpoint's health. */
export interface EndpointAttempt {
  endpointId: string;
  result: Pick<AttemptResult, 'outcome'>;
}

/** An endpoint whose stream an instance reads, with what reading and signing need. */
export interface LeasedStream {
  endpointId: string;
  url: string;
  secret: string;
  /** The event types it is subscribed to. */
  events: string[];
  /** Only events that occurred since it was registered go to it. */
  createdAt: Date;
  cursor: StreamCursor;
}

/** The first attempt at an event of a stream, to record. */
export interface FirstAttempt {
  event: RelayedEvent;
  result: AttemptResult;
  retryInMs: number | undefined;
}

/**
 * Each endpoint's failure streak over a batch, its attempts in order: whether one was delivered
 * (the streak starts again there) and how many failed after the last delivered one.
 */
export function streaks(
  attempts: readonly EndpointAttempt[],
): { id: string; reset: boolean; failures: number }[] {
  const byEndpoint = new Map<string, { id: string; reset: boolean; failures: number }>();
  for (const { endpointId, result } of attempts) {
    const streak = byEndpoint.get(endpointId) ?? {
      id: endpointId,
      reset: false,
      failures: 0,
    };
    if (result.outcome === 'delivered') {
      streak.reset = true;
      streak.failures = 0;
    } else {
      streak.failures += 1;
    }
    byEndpoint.set(endpointId, streak);
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
      `INSERT INTO webhook_endpoints (url, events, description, secret, stream_tx)
       VALUES ($1, $2, $3, $4, pg_snapshot_xmin(pg_current_snapshot()))
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

  /**
   * Applies the changes given; enabling an endpoint again forgets its failures, and its stream
   * starts from the present (what occurred while it was disabled is not sent to it).
   */
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
         stream_tx = CASE WHEN $6 AND NOT enabled THEN pg_snapshot_xmin(pg_current_snapshot())
                          ELSE stream_tx END,
         stream_seq = CASE WHEN $6 AND NOT enabled THEN 0 ELSE stream_seq END,
         stream_owner = CASE WHEN $6 AND NOT enabled THEN NULL ELSE stream_owner END,
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
   * Leases to `owner` the streams of the enabled endpoints no other instance holds (and renews
   * its own) for `leaseMs`: the stream's reader sends an endpoint's first attempts and claims its
   * retries, so that one counter on one instance bounds what the endpoint has in flight.
   */
  leaseStreams(owner: string, leaseMs: number): Promise<LeasedStream[]> {
    return this.tx
      .query<{
        id: string;
        url: string;
        secret: string;
        events: string[];
        created_at: Date;
        stream_tx: string;
        stream_seq: string;
      }>(
        `UPDATE webhook_endpoints SET stream_owner = $1,
           stream_expires_at = now() + $2::int * interval '1 millisecond'
         WHERE enabled
           AND (stream_owner = $1 OR stream_owner IS NULL OR stream_expires_at < now())
         RETURNING id, url, secret, events, created_at, stream_tx::text, stream_seq::text`,
        [owner, leaseMs],
      )
      .then((rows) =>
        rows.map((row) => ({
          endpointId: row.id,
          url: row.url,
          secret: row.secret,
          events: row.events,
          createdAt: row.created_at,
          cursor: { tx: row.stream_tx, seq: row.stream_seq },
        })),
      );
  }

  /** Lets `owner`'s streams go (at shutdown): another instance takes them at once. */
  async releaseStreams(owner: string): Promise<void> {
    await this.tx.query(
      `UPDATE webhook_endpoints SET stream_owner = NULL, stream_expires_at = NULL
       WHERE stream_owner = $1`,
      [owner],
    );
  }

  /**
   * Records what a stream's batch did, inside the caller's transaction: one delivery per event
   * sent (delivered, due again after its `retryInMs`, or failed) with its first attempt, and the
   * cursor moved on. False, and nothing is written, unless `owner` still holds the stream with
   * its cursor where the batch was read from (else another instance took it over meanwhile).
   */
  async recordStream(
    owner: string,
    endpointId: string,
    cursor: { from: StreamCursor; to: StreamCursor },
    leaseMs: number,
    attempts: readonly FirstAttempt[],
  ): Promise<boolean> {
    const moved = await this.tx.query(
      `UPDATE webhook_endpoints SET stream_tx = $5::xid8, stream_seq = $6::bigint,
         stream_expires_at = now() + $7::int * interval '1 millisecond'
       WHERE id = $1 AND stream_owner = $2 AND stream_tx = $3::xid8 AND stream_seq = $4::bigint
       RETURNING 1`,
      [endpointId, owner, cursor.from.tx, cursor.from.seq, cursor.to.tx, cursor.to.seq, leaseMs],
    );
    if (moved.length === 0) return false;
    if (attempts.length === 0) return true;
    await this.tx.query(
      `WITH r AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(ord int, event_id uuid, event_type text,
           payload jsonb, trace_parent text, delivered boolean, retry_ms int, status_code int,
           latency_ms int, excerpt text, error text)
       ), d AS (
         INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload, trace_parent,
           status, attempts, next_attempt_at, last_status_code, last_error, created_at,
           finished_at)
         SELECT $1, r.event_id, r.event_type, r.payload, r.trace_parent,
                CASE WHEN r.delivered THEN 'delivered' WHEN r.retry_ms IS NULL THEN 'failed'
                     ELSE 'pending' END,
                1,
                CASE WHEN r.delivered OR r.retry_ms IS NULL THEN now()
                     ELSE now() + r.retry_ms * interval '1 millisecond' END,
                r.status_code, r.error, clock_timestamp(),
                CASE WHEN r.delivered OR r.retry_ms IS NULL THEN now() END
         FROM r ORDER BY r.ord
         ON CONFLICT (endpoint_id, event_id) DO NOTHING
         RETURNING id, event_id
       )
       INSERT INTO webhook_attempts (delivery_id, status_code, latency_ms, response_excerpt, error)
       SELECT d.id, r.status_code, r.latency_ms, r.excerpt, r.error
       FROM d JOIN r ON r.event_id = d.event_id
       ORDER BY r.ord`,
      [
        endpointId,
        JSON.stringify(
          attempts.map((a, ord) => ({
            ord,
            event_id: a.event.body.id,
            event_type: a.event.body.type,
            payload: a.event.body,
            trace_parent: a.event.traceParent,
            delivered: a.result.outcome === 'delivered',
            retry_ms: a.result.outcome === 'delivered' ? null : (a.retryInMs ?? null),
            status_code: a.result.statusCode,
            latency_ms: a.result.latencyMs,
            excerpt: a.result.excerpt,
            error: a.result.error,
          })),
        ),
      ],
    );
    return true;
  }

  /**
   * Pending notifications no webhook will deliver any more, with the last error of their
   * deliveries (null when no endpoint took their event): every enabled endpoint subscribed to
   * notification.requested (when it occurred) has streamed past their event, and none of their
   * event's deliveries is pending or delivered.
   */
  undeliverableNotifications(): Promise<
    { notificationId: string; lastError: string | null; sent: boolean }[]
  > {
    return this.tx
      .query<{ notification_id: string; last_error: string | null; sent: boolean }>(
        `SELECT n.notification_id,
                (SELECT d.last_error FROM webhook_deliveries d WHERE d.event_id = e.id
                 ORDER BY d.finished_at DESC NULLS LAST LIMIT 1) AS last_error,
                EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) AS sent
         FROM notifications n
         JOIN integration_events e ON e.transaction_id = n.transaction_id AND e.type = $1
           AND e.data->>'notificationId' = n.notification_id
         WHERE n.status = 'pending'
           AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
           AND NOT EXISTS (
             SELECT 1 FROM webhook_deliveries d
             WHERE d.event_id = e.id AND d.status <> 'failed')
           AND NOT EXISTS (
             SELECT 1 FROM webhook_endpoints w
             WHERE w.enabled AND e.type = ANY(w.events) AND w.created_at <= e.occurred_at
               AND (e.tx, e.seq) > (w.stream_tx, w.stream_seq))
         LIMIT 1000`,
        [NOTIFICATION_REQUESTED],
      )
      .then((rows) =>
        rows.map((row) => ({
          notificationId: row.notification_id,
          lastError: row.last_error,
          sent: row.sent,
        })),
      );
  }

  /**
   * Leases to `owner` the due deliveries (retries, re-sends, tests) of the endpoints whose
   * streams it holds, at most `rooms[endpoint]` each: what each endpoint has room for beside
   * what this instance already sends it.
   */
  async claim(
    owner: string,
    leaseMs: number,
    rooms: ReadonlyMap<string, number>,
  ): Promise<ClaimedDelivery[]> {
    if (rooms.size === 0) return [];
    const rows = await this.tx.query<{
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
         SELECT due.id FROM unnest($3::uuid[], $4::int[]) AS room(endpoint_id, n)
         JOIN webhook_endpoints w ON w.id = room.endpoint_id
         CROSS JOIN LATERAL (
           SELECT d.id FROM webhook_deliveries d
           WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= now()
             AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
           ORDER BY d.next_attempt_at
           LIMIT room.n
           FOR UPDATE SKIP LOCKED
         ) due
         WHERE w.enabled AND w.stream_owner = $1
       )
       UPDATE webhook_deliveries d SET lease_owner = $1,
         lease_expires_at = now() + $2::int * interval '1 millisecond'
       FROM webhook_endpoints w
       WHERE d.id IN (SELECT id FROM picked) AND w.id = d.endpoint_id
       RETURNING d.id, d.endpoint_id, d.event_id, d.payload::text AS body, d.trace_parent,
                 d.attempts, w.url, w.secret, d.event_type`,
      [owner, leaseMs, [...rooms.keys()], [...rooms.values()]],
    );
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
  ): Promise<(EndpointHealth & { endpointId: string })[]> {
    if (attempts.length === 0) return [];
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
    await this.tx.query(
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
       WHERE d.id = r.id AND d.lease_owner = $1 AND d.status = 'pending'`,
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
    return this.recordHealth(
      attempts.map((a) => ({ endpointId: a.delivery.endpointId, result: a.result })),
      disableAfterMs,
    );
  }

  /**
   * Each endpoint's failure streak moved by these attempts (in their order): a delivered one
   * ends it; an endpoint failing for longer than `disableAfterMs` is disabled. Answers the
   * health of each endpoint with a failed attempt among them.
   */
  async recordHealth(
    attempts: readonly EndpointAttempt[],
    disableAfterMs: number | undefined,
  ): Promise<(EndpointHealth & { endpointId: string })[]> {
    const delivered = (a: EndpointAttempt) => a.result.outcome === 'delivered';
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
    return endpoints
      .filter((row) => attempts.some((a) => a.endpointId === row.id && !delivered(a)))
      .map((row) => ({
        endpointId: row.id,
        enabled: row.enabled,
        consecutiveFailures: row.consecutive_failures,
      }));
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
