import type { Client } from 'pg';
import { ITEM_STOCK, USER_BALANCE } from './fixtures';

/**
 * The scale bench's data: users and items made once, then sagas grown in set-based SQL with the
 * rows the service writes for them (saga, step results, log, notification, outbox events of a
 * choreographed saga, inventory), and the ledgers kept balanced: each grown completed saga
 * counts as a purchase plus a top-up and a restock of what it took, so credited_total and
 * stocked_total rise by its total and quantity while balance and stock stay as they were.
 */

export const SCALE_USERS = 10_000;
/** Items the purchases spread over (one more is hot, one more rare). */
export const SCALE_SPREAD_ITEMS = 198;
/** Sagas are spread over this many days before the growth starts (under RETENTION_SAGAS). */
export const SCALE_DAYS = 20;
/** Share of sagas buying the hot item. */
const HOT_SHARE = 0.15;
/** One saga in this many buys the rare item. */
const RARE_EVERY = 100_000;
/** Share of the sagas of the last day (RETENTION_IDEMPOTENCY) that carry an Idempotency-Key. */
const KEYED_SHARE = 0.3;
/** Why a compensation gave up before an admin re-drove it. */
const GAVE_UP =
  'Compensation of user_validation failed: canceling statement due to statement timeout';

/**
 * What becomes of a grown saga, by share (the rest complete): `unnotified` completes with its
 * notification given up; `redriven` is a compensation that gave up, re-driven by an admin to
 * `compensated` (it keeps COMPENSATION_FAILED; one left `failed` would be a standing violation
 * of the integrity check, and of its user's ledger).
 */
export const OUTCOME_SHARES = [
  ['redriven', 0.0001],
  ['balance', 0.03],
  ['limit', 0.01],
  ['inactive', 0.005],
  ['stock', 0.04],
  ['unavailable', 0.005],
  ['unnotified', 0.009],
] as const;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export interface ScaleFixtures {
  userIds: string[];
  /** The items purchases spread over. */
  itemIds: string[];
  hotItemId: string;
  rareItemId: string;
}

export function scaleFixtures(): ScaleFixtures {
  return {
    userIds: Array.from({ length: SCALE_USERS }, (_, i) => `scale-u${pad(i + 1, 5)}`),
    itemIds: Array.from({ length: SCALE_SPREAD_ITEMS }, (_, i) => `scale-i${pad(i + 1, 3)}`),
    hotItemId: 'scale-hot',
    rareItemId: 'scale-rare',
  };
}

/** The users (no purchase limit, a balance no run exhausts) and items, their ledgers opened. */
export async function insertUsersAndItems(db: Client): Promise<void> {
  await db.query(
    `INSERT INTO users (user_id, name, balance, credited_total, status, purchase_limit)
     SELECT 'scale-u' || lpad(n::text, 5, '0'), 'Scale user ' || n, $1::numeric, $1::numeric,
            'active', 0
     FROM generate_series(1, $2::int) AS n`,
    [USER_BALANCE, SCALE_USERS],
  );
  await db.query(
    `INSERT INTO items (item_id, name, price, stock, stocked_total, is_available)
     SELECT 'scale-i' || lpad(n::text, 3, '0'), 'Scale item ' || n, (n * 37 % 100) + 1.99, $1::int,
            $1::int, true
     FROM generate_series(1, $2::int) AS n
     UNION ALL SELECT 'scale-hot', 'Scale hot item', 10, $1::int, $1::int, true
     UNION ALL SELECT 'scale-rare', 'Scale rare item', 250, $1::int, $1::int, true`,
    [ITEM_STOCK, SCALE_SPREAD_ITEMS],
  );
}

/**
 * Session helpers (temporary: they live in pg_temp and go with the connection): a time-ordered
 * id as the service makes them (UUID v7 of a time), a time as JSON shows it, an outbox payload.
 */
const SESSION_FUNCTIONS = [
  `CREATE OR REPLACE FUNCTION pg_temp.scale_id(at timestamptz) RETURNS text LANGUAGE sql VOLATILE AS $$
     SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(gen_random_uuid()::text, 16)
     FROM (SELECT lpad(to_hex(floor(extract(epoch FROM at) * 1000)::bigint), 12, '0') AS h) AS t
   $$`,
  `CREATE OR REPLACE FUNCTION pg_temp.scale_iso(at timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
     SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
   $$`,
  `CREATE OR REPLACE FUNCTION pg_temp.scale_event(data jsonb, status text, version int,
     completed jsonb, compensated jsonb, at timestamptz, cause uuid) RETURNS jsonb
   LANGUAGE sql STABLE AS $$
     SELECT jsonb_build_object('data', data,
       'saga', jsonb_build_object('status', status, 'version', version, 'completed', completed,
                                  'compensated', compensated),
       'occurredAt', pg_temp.scale_iso(at + interval '1 millisecond'), 'causationId', cause)
   $$`,
];

const outcomeCase = (column: string): string => {
  let bound = 0;
  const branches = OUTCOME_SHARES.map(([outcome, share]) => {
    bound += share;
    return `WHEN ${column} < ${bound.toFixed(6)} THEN '${outcome}'`;
  });
  return `CASE ${branches.join(' ')} ELSE 'completed' END`;
};

/**
 * One chunk's sagas, $1..$2 of a growth numbered $3..$4 whose creation times spread evenly (in
 * order) from $5 to $6, with every value their rows need.
 */
const CHUNK = `
CREATE TEMP TABLE scale_chunk ON COMMIT DROP AS
WITH drawn AS (
  SELECT g,
         $5::timestamptz + ($6::timestamptz - $5::timestamptz) * (((g - $3) + random()) / ($4 - $3 + 1)) AS created_at,
         random() AS r_pattern, random() AS r_user, random() AS r_item, random() AS r_hot,
         random() AS r_quantity, random() AS r_outcome, random() AS r_duration, random() AS r_key
  FROM generate_series($1::bigint, $2::bigint) AS g
), shaped AS (
  SELECT d.g, d.created_at, d.r_key,
         CASE WHEN d.r_pattern < 0.5 THEN 'orchestration' ELSE 'choreography' END AS pattern,
         'scale-u' || lpad((1 + floor(d.r_user * ${SCALE_USERS}))::int::text, 5, '0') AS user_id,
         CASE WHEN d.g % ${RARE_EVERY} = 1 THEN 'scale-rare'
              WHEN d.r_hot < ${HOT_SHARE} THEN 'scale-hot'
              -- skewed: the first items sell far more than the last
              ELSE 'scale-i' || lpad((1 + floor(${SCALE_SPREAD_ITEMS} * d.r_item * d.r_item))::int::text, 3, '0')
         END AS item_id,
         CASE WHEN d.r_quantity < 0.85 THEN 1 WHEN d.r_quantity < 0.95 THEN 2 ELSE 3 END AS quantity,
         ${outcomeCase('d.r_outcome')} AS outcome,
         -- a few ms for most, up to a second for some
         (5 + floor(995 * d.r_duration ^ 4))::int AS duration_ms
  FROM drawn d
), timed AS (
  SELECT s.*, i.price * s.quantity AS price,
         CASE WHEN s.outcome IN ('completed', 'unnotified') THEN 'completed'
              WHEN s.outcome IN ('balance', 'limit', 'inactive') THEN 'failed'
              ELSE 'compensated' END AS status,
         CASE WHEN s.outcome IN ('balance', 'limit', 'inactive') THEN 'user_validation'
              WHEN s.outcome IN ('stock', 'unavailable', 'redriven') THEN 'item_grant' END AS refusal_step,
         CASE s.outcome WHEN 'balance' THEN 'INSUFFICIENT_BALANCE'
              WHEN 'limit' THEN 'PURCHASE_LIMIT_EXCEEDED' WHEN 'inactive' THEN 'USER_NOT_ACTIVE'
              WHEN 'unavailable' THEN 'ITEM_NOT_AVAILABLE'
              WHEN 'stock' THEN 'INSUFFICIENT_STOCK' WHEN 'redriven' THEN 'INSUFFICIENT_STOCK'
         END AS refusal_code,
         CASE s.outcome
           WHEN 'balance' THEN 'Insufficient balance. Available: ' || (i.price * s.quantity / 3)::numeric(12,2)
                               || ', Required: ' || i.price * s.quantity
           WHEN 'limit' THEN 'Purchase total ' || i.price * s.quantity || ' exceeds the purchase limit '
                             || (i.price * s.quantity / 2)::numeric(12,2)
           WHEN 'inactive' THEN 'User is not active: ' || s.user_id || ' (suspended)'
           WHEN 'unavailable' THEN 'Item is not available: ' || s.item_id
           WHEN 'stock' THEN 'Insufficient stock. Available: 0, Requested: ' || s.quantity
           WHEN 'redriven' THEN 'Insufficient stock. Available: 0, Requested: ' || s.quantity
         END AS refusal_message,
         s.created_at + s.duration_ms * interval '250 microseconds' AS t1,
         s.created_at + s.duration_ms * interval '500 microseconds' AS t2,
         s.created_at + s.duration_ms * interval '750 microseconds' AS t3,
         s.created_at + s.duration_ms * interval '1 millisecond' AS finished_at
  FROM shaped s JOIN items i ON i.item_id = s.item_id
), ided AS (
  SELECT t.*,
         'TXN_' || pg_temp.scale_id(t.created_at) AS transaction_id,
         CASE WHEN t.status = 'completed' THEN 'LOG_' || pg_temp.scale_id(t.t3) END AS log_id,
         CASE WHEN t.status = 'completed' THEN 'NOTIF_' || pg_temp.scale_id(t.finished_at) END AS notification_id,
         CASE WHEN t.outcome = 'redriven'
              THEN greatest(t.finished_at, least(t.finished_at + interval '5 minutes', $6::timestamptz)) END AS redriven_at,
         CASE WHEN t.created_at > $6::timestamptz - interval '24 hours' AND t.r_key < ${KEYED_SHARE}
              THEN 'scale-key-' || gen_random_uuid() END AS idempotency_key
  FROM timed t
), evented AS (
  SELECT i.*,
         CASE WHEN i.pattern = 'choreography' THEN pg_temp.scale_id(i.created_at)::uuid END AS ev1,
         CASE WHEN i.pattern = 'choreography' AND i.status <> 'failed' THEN pg_temp.scale_id(i.t1)::uuid END AS ev2,
         CASE WHEN i.pattern = 'choreography' AND i.status <> 'failed' THEN pg_temp.scale_id(i.t2)::uuid END AS ev3,
         CASE WHEN i.pattern = 'choreography' AND i.status = 'completed' THEN pg_temp.scale_id(i.t3)::uuid
              WHEN i.pattern = 'choreography' AND i.outcome = 'redriven' THEN pg_temp.scale_id(i.redriven_at)::uuid
         END AS ev4
  FROM ided i
)
SELECT e.*,
       CASE WHEN e.idempotency_key IS NOT NULL THEN encode(sha256(convert_to(
         '["' || e.user_id || '","' || e.item_id || '",' || e.quantity || ',null,"' || e.pattern || '"]',
         'UTF8')), 'hex') END AS request_hash,
       CASE WHEN e.outcome = 'redriven' THEN 'user_validation' ELSE e.refusal_step END AS error_step,
       CASE WHEN e.outcome = 'redriven' THEN 'COMPENSATION_FAILED' ELSE e.refusal_code END AS error_code,
       CASE WHEN e.outcome = 'redriven' THEN '${GAVE_UP}' ELSE e.refusal_message END AS error_message,
       jsonb_build_object('code', e.refusal_code, 'step', e.refusal_step, 'message', e.refusal_message) AS refusal,
       jsonb_build_object('code', 'COMPENSATION_FAILED', 'step', 'user_validation', 'message', '${GAVE_UP}') AS gave_up,
       'Step notification failed: Notification provider refused the send to ' || e.user_id AS notify_error,
       jsonb_build_object('amount', e.price::float8, 'userId', e.user_id, 'isValid', true,
         'balanceAfter', (${USER_BALANCE} - e.price)::float8, 'balanceBefore', ${USER_BALANCE}) AS uv_data,
       jsonb_build_object('itemId', e.item_id, 'userId', e.user_id, 'quantity', e.quantity,
         'grantedAt', pg_temp.scale_iso(e.t2),
         'stockSnapshot', jsonb_build_object('after', ${ITEM_STOCK} - e.quantity, 'before', ${ITEM_STOCK}),
         'userInventorySnapshot', jsonb_build_object('after', e.g % 7 + e.quantity, 'before', e.g % 7)) AS ig_data,
       jsonb_build_object('logId', e.log_id, 'recordedAt', pg_temp.scale_iso(e.t3)) AS lr_data,
       CASE WHEN e.outcome = 'unnotified'
            THEN jsonb_build_object('status', 'failed', 'channels', '["jetstream"]'::jsonb,
                                    'notificationId', e.notification_id)
            ELSE jsonb_build_object('status', 'pending',
                                    'channels', '["jetstream"]'::jsonb, 'notificationId', e.notification_id)
       END AS ns_data,
       jsonb_build_object('userId', e.user_id, 'refunded', e.price::float8, 'balanceAfter', ${USER_BALANCE}) AS refund_data
FROM evented e`;

const INSERT_SAGAS = `
INSERT INTO saga_states (transaction_id, pattern, status, current_step, user_id, item_id, quantity,
  price, idempotency_key, request_hash, error_step, error_code, error_message, version, attempts,
  created_at, updated_at, completed_at, failed_at)
SELECT transaction_id, pattern, status,
       CASE WHEN status = 'completed' THEN 'notification' ELSE 'user_validation' END,
       user_id, item_id, quantity, price, idempotency_key, request_hash,
       error_step, error_code, error_message,
       CASE WHEN status = 'completed' OR outcome = 'redriven' THEN 4
            WHEN status = 'compensated' THEN 3 ELSE 1 END,
       0, created_at, COALESCE(redriven_at, finished_at),
       CASE WHEN status = 'completed' THEN finished_at END,
       CASE WHEN status <> 'completed' THEN COALESCE(redriven_at, finished_at) END
FROM scale_chunk c ORDER BY c.created_at`;

/** Each saga's step rows as the step runner writes them, forward and compensation. */
const INSERT_STEPS = `
INSERT INTO saga_step_results (transaction_id, step, kind, status, data, error_code, error_message,
  duration_ms, executed_at)
SELECT c.transaction_id, r.step, r.kind, r.status, r.data, r.error_code, r.error_message,
       r.duration_ms, r.executed_at
FROM scale_chunk c CROSS JOIN LATERAL (
  SELECT 1 AS ord, 'user_validation' AS step, 'forward' AS kind, 'success' AS status, c.uv_data AS data,
         NULL::varchar AS error_code, NULL::text AS error_message, 1 + c.g::int % 5 AS duration_ms,
         c.t1 AS executed_at
  WHERE c.status <> 'failed'
  UNION ALL
  SELECT 1, 'user_validation', 'forward', 'failed', NULL, c.refusal_code, c.refusal_message, 0, c.finished_at
  WHERE c.status = 'failed'
  UNION ALL
  SELECT 2, 'item_grant', 'forward', 'success', c.ig_data, NULL, NULL, 1 + c.g::int % 4, c.t2
  WHERE c.status = 'completed'
  UNION ALL
  SELECT 2, 'item_grant', 'forward', 'failed', NULL, c.refusal_code, c.refusal_message, 0, c.t2
  WHERE c.status = 'compensated'
  UNION ALL
  SELECT 3, 'log_record', 'forward', 'success', c.lr_data, NULL, NULL, 1 + c.g::int % 3, c.t3
  WHERE c.status = 'completed'
  UNION ALL
  SELECT 4, 'notification', 'forward',
         CASE WHEN c.outcome = 'unnotified' THEN 'failed' ELSE 'success' END, c.ns_data,
         CASE WHEN c.outcome = 'unnotified' THEN 'STEP_FAILED' END,
         CASE WHEN c.outcome = 'unnotified' THEN c.notify_error END,
         CASE WHEN c.outcome = 'unnotified' THEN 0 ELSE 1 + c.g::int % 3 END, c.finished_at
  WHERE c.status = 'completed'
  UNION ALL
  SELECT 5, 'user_validation', 'compensation', 'success', c.refund_data, NULL, NULL, c.g::int % 3, c.finished_at
  WHERE c.outcome IN ('stock', 'unavailable')
  UNION ALL
  SELECT 5, 'user_validation', 'compensation', 'failed', NULL, 'COMPENSATION_FAILED', '${GAVE_UP}', 0, c.t3
  WHERE c.outcome = 'redriven'
  UNION ALL
  SELECT 6, 'user_validation', 'compensation', 'success', c.refund_data, NULL, NULL, 2, c.redriven_at
  WHERE c.outcome = 'redriven'
) r
ORDER BY r.executed_at, r.ord`;

const INSERT_LOGS = `
INSERT INTO transaction_logs (log_id, transaction_id, user_id, item_id, quantity, price, status,
  log_data, created_at, updated_at)
SELECT log_id, transaction_id, user_id, item_id, quantity, price, 'completed',
       jsonb_build_object('event', 'PURCHASE_COMPLETED', 'pattern', pattern), t3, t3
FROM scale_chunk c WHERE status = 'completed' ORDER BY c.t3`;

const INSERT_NOTIFICATIONS = `
INSERT INTO notifications (notification_id, transaction_id, user_id, type, message, channels,
  status, attempts, error, delivered_at, created_at)
SELECT notification_id, transaction_id, user_id, 'purchase_success',
       'Purchase of ' || quantity || ' x ' || item_id || ' completed', '["jetstream"]'::jsonb,
       CASE WHEN outcome = 'unnotified' THEN 'failed' ELSE 'delivered' END, 1,
       CASE WHEN outcome = 'unnotified' THEN notify_error END,
       CASE WHEN outcome = 'unnotified' THEN NULL ELSE finished_at END, finished_at
FROM scale_chunk c WHERE status = 'completed' ORDER BY c.finished_at`;

const UV = `'["user_validation"]'::jsonb`;
const FORWARD_3 = `'["user_validation", "item_grant", "log_record"]'::jsonb`;
const NONE = `'[]'::jsonb`;

/** A choreographed saga's events, published (no pending row), as its participants raise them. */
const INSERT_EVENTS = `
INSERT INTO outbox_events (event_id, event_type, aggregate_id, payload, created_at)
SELECT e.event_id, e.event_type, c.transaction_id, e.payload, e.at
FROM scale_chunk c CROSS JOIN LATERAL (
  SELECT 1 AS ord, c.ev1 AS event_id, 'PurchaseInitiated' AS event_type, c.created_at AS at,
         pg_temp.scale_event('{}', 'pending', 0, ${NONE}, ${NONE}, c.created_at, NULL) AS payload
  UNION ALL
  SELECT 2, c.ev2, 'UserValidated', c.t1,
         pg_temp.scale_event('{"step": "user_validation"}'::jsonb || c.uv_data, 'in_progress', 1,
                             ${UV}, ${NONE}, c.t1, c.ev1)
  WHERE c.status <> 'failed'
  UNION ALL
  SELECT 3, c.ev3, 'ItemGranted', c.t2,
         pg_temp.scale_event('{"step": "item_grant"}'::jsonb || c.ig_data, 'in_progress', 2,
                             '["user_validation", "item_grant"]', ${NONE}, c.t2, c.ev2)
  WHERE c.status = 'completed'
  UNION ALL
  SELECT 4, c.ev4, 'LogRecorded', c.t3,
         pg_temp.scale_event('{"step": "log_record"}'::jsonb || c.lr_data, 'in_progress', 3,
                             ${FORWARD_3}, ${NONE}, c.t3, c.ev3)
  WHERE c.status = 'completed'
  UNION ALL
  SELECT 5, pg_temp.scale_id(c.finished_at)::uuid, 'NotificationSent', c.finished_at,
         pg_temp.scale_event(
           CASE WHEN c.outcome = 'unnotified'
                THEN jsonb_build_object('sent', false, 'step', 'notification', 'error',
                       jsonb_build_object('code', 'STEP_FAILED', 'step', 'notification', 'message', c.notify_error))
                ELSE '{"step": "notification"}'::jsonb END || c.ns_data,
           'completed', 4,
           CASE WHEN c.outcome = 'unnotified' THEN ${FORWARD_3}
                ELSE '["user_validation", "item_grant", "log_record", "notification"]'::jsonb END,
           ${NONE}, c.finished_at, c.ev4)
  WHERE c.status = 'completed'
  UNION ALL
  SELECT 6, pg_temp.scale_id(c.finished_at)::uuid, 'PurchaseCompleted', c.finished_at,
         pg_temp.scale_event('{}', 'completed', 4,
           CASE WHEN c.outcome = 'unnotified' THEN ${FORWARD_3}
                ELSE '["user_validation", "item_grant", "log_record", "notification"]'::jsonb END,
           ${NONE}, c.finished_at, c.ev4)
  WHERE c.status = 'completed'
  UNION ALL
  SELECT 2, pg_temp.scale_id(c.finished_at)::uuid, 'UserValidationFailed', c.finished_at,
         pg_temp.scale_event(jsonb_build_object('step', 'user_validation', 'error', c.refusal),
                             'failed', 1, ${NONE}, ${NONE}, c.finished_at, c.ev1)
  WHERE c.status = 'failed'
  UNION ALL
  SELECT 3, pg_temp.scale_id(c.finished_at)::uuid, 'PurchaseFailed', c.finished_at,
         pg_temp.scale_event(jsonb_build_object('error', c.refusal), 'failed', 1, ${NONE}, ${NONE},
                             c.finished_at, c.ev1)
  WHERE c.status = 'failed'
  UNION ALL
  SELECT 3, pg_temp.scale_id(c.t2)::uuid, 'ItemGrantFailed', c.t2,
         pg_temp.scale_event(jsonb_build_object('step', 'item_grant', 'error', c.refusal),
                             'compensating', 2, ${UV}, ${NONE}, c.t2, c.ev2)
  WHERE c.status = 'compensated'
  UNION ALL
  SELECT 4, c.ev3, 'CompensationInitiated', c.t2,
         pg_temp.scale_event(jsonb_build_object('error', c.refusal, 'remaining', ${UV}),
                             'compensating', 2, ${UV}, ${NONE}, c.t2, c.ev2)
  WHERE c.status = 'compensated'
  UNION ALL
  SELECT 5, pg_temp.scale_id(c.finished_at)::uuid, 'CompensationCompleted', c.finished_at,
         pg_temp.scale_event('{"step": "user_validation", "remaining": []}'::jsonb || c.refund_data,
                             'compensated', 3, ${UV}, ${UV}, c.finished_at, c.ev3)
  WHERE c.outcome IN ('stock', 'unavailable')
  UNION ALL
  SELECT 6, pg_temp.scale_id(c.finished_at)::uuid, 'PurchaseFailed', c.finished_at,
         pg_temp.scale_event('{}', 'compensated', 3, ${UV}, ${UV}, c.finished_at, c.ev3)
  WHERE c.outcome IN ('stock', 'unavailable')
  UNION ALL
  SELECT 5, pg_temp.scale_id(c.t3)::uuid, 'CompensationFailed', c.t3,
         pg_temp.scale_event(jsonb_build_object('step', 'user_validation', 'error', c.gave_up),
                             'failed', 3, ${UV}, ${NONE}, c.t3, c.ev3)
  WHERE c.outcome = 'redriven'
  UNION ALL
  SELECT 6, pg_temp.scale_id(c.t3)::uuid, 'PurchaseFailed', c.t3,
         pg_temp.scale_event(jsonb_build_object('error', c.gave_up), 'failed', 3, ${UV}, ${NONE},
                             c.t3, c.ev3)
  WHERE c.outcome = 'redriven'
  UNION ALL
  SELECT 7, c.ev4, 'CompensationInitiated', c.redriven_at,
         pg_temp.scale_event(jsonb_build_object('remaining', ${UV}), 'failed', 3, ${UV}, ${NONE},
                             c.redriven_at, NULL)
  WHERE c.outcome = 'redriven'
  UNION ALL
  SELECT 8, pg_temp.scale_id(c.redriven_at)::uuid, 'CompensationCompleted', c.redriven_at,
         pg_temp.scale_event('{"step": "user_validation", "remaining": []}'::jsonb || c.refund_data,
                             'compensated', 4, ${UV}, ${UV}, c.redriven_at, c.ev4)
  WHERE c.outcome = 'redriven'
  UNION ALL
  SELECT 9, pg_temp.scale_id(c.redriven_at)::uuid, 'PurchaseFailed', c.redriven_at,
         pg_temp.scale_event('{}', 'compensated', 4, ${UV}, ${UV}, c.redriven_at, c.ev4)
  WHERE c.outcome = 'redriven'
) e
WHERE c.pattern = 'choreography'
ORDER BY e.at, e.ord`;

/** What the chunk's completed sagas took, as if each purchase came with its top-up and restock. */
const LEDGERS = [
  `INSERT INTO user_inventory (user_id, item_id, quantity)
   SELECT user_id, item_id, sum(quantity) FROM scale_chunk WHERE status = 'completed'
   GROUP BY user_id, item_id ORDER BY user_id, item_id
   ON CONFLICT (user_id, item_id)
   DO UPDATE SET quantity = user_inventory.quantity + EXCLUDED.quantity, updated_at = now()`,
  `UPDATE users u SET credited_total = u.credited_total + c.total
   FROM (SELECT user_id, sum(price) AS total FROM scale_chunk WHERE status = 'completed'
         GROUP BY user_id) c
   WHERE u.user_id = c.user_id`,
  `UPDATE items i SET stocked_total = i.stocked_total + c.quantity
   FROM (SELECT item_id, sum(quantity) AS quantity FROM scale_chunk WHERE status = 'completed'
         GROUP BY item_id) c
   WHERE i.item_id = c.item_id`,
];

export async function sagaCount(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM saga_states');
  return Number(rows[0].n);
}

export interface Growth {
  from: number;
  to: number;
  chunks: number;
  seconds: number;
  sagasPerS: number;
  /** VACUUM (ANALYZE) of the database after the growth. */
  vacuumAnalyzeS: number;
}

const seconds = (since: number): number => Math.round((performance.now() - since) / 100) / 10;

/**
 * Adds sagas until the database holds `target`, `chunk` per transaction, created over the
 * SCALE_DAYS before now (in time order within the growth, as a live service writes them), then
 * VACUUM (ANALYZE): what autovacuum would have done on a live server, which the bench's has off.
 */
export async function growTo(
  db: Client,
  target: number,
  chunk: number,
  log: (line: string) => void,
): Promise<Growth> {
  const from = await sagaCount(db);
  const began = performance.now();
  let chunks = 0;
  if (from < target) {
    for (const statement of SESSION_FUNCTIONS) await db.query(statement);
    const { rows } = await db.query<{ start: Date; end: Date }>(
      `SELECT now() - $1::int * interval '1 day' AS start, now() AS end`,
      [SCALE_DAYS],
    );
    const { start, end } = rows[0];
    const first = from + 1;
    for (let low = first; low <= target; low += chunk) {
      const high = Math.min(low + chunk - 1, target);
      await db.query('BEGIN');
      try {
        // The chunk's sorts stay in memory; a lost chunk on a crash is only a bench's.
        await db.query("SET LOCAL work_mem = '256MB'");
        await db.query('SET LOCAL synchronous_commit = off');
        await db.query(CHUNK, [low, high, first, target, start, end]);
        for (const statement of [
          INSERT_SAGAS,
          INSERT_STEPS,
          INSERT_LOGS,
          INSERT_NOTIFICATIONS,
          INSERT_EVENTS,
          ...LEDGERS,
        ]) {
          await db.query(statement);
        }
        await db.query('COMMIT');
      } catch (error) {
        await db.query('ROLLBACK');
        throw error;
      }
      chunks++;
      const elapsed = (performance.now() - began) / 1000;
      log(
        `  ${high.toLocaleString('en-US')} / ${target.toLocaleString('en-US')} sagas ` +
          `(${Math.round((high - from) / elapsed).toLocaleString('en-US')} sagas/s)`,
      );
    }
  }
  const growthS = seconds(began);
  const vacuumBegan = performance.now();
  await db.query('VACUUM (ANALYZE)');
  return {
    from,
    to: await sagaCount(db),
    chunks,
    seconds: growthS,
    sagasPerS: growthS === 0 ? 0 : Math.round((target - from) / growthS),
    vacuumAnalyzeS: seconds(vacuumBegan),
  };
}

export interface TableSize {
  table: string;
  rows: number;
  tableBytes: number;
  indexBytes: number;
}

export interface DiskUsage {
  databaseBytes: number;
  /** The largest tables, with their indexes. */
  tables: TableSize[];
}

export async function diskUsage(db: Client, top = 6): Promise<DiskUsage> {
  const size = await db.query<{ bytes: string }>(
    'SELECT pg_database_size(current_database())::text AS bytes',
  );
  const tables = await db.query<{
    table: string;
    rows: string;
    table_bytes: string;
    index_bytes: string;
  }>(
    `SELECT c.relname AS table, greatest(c.reltuples, 0)::bigint::text AS rows,
            pg_table_size(c.oid)::text AS table_bytes, pg_indexes_size(c.oid)::text AS index_bytes
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r'
     ORDER BY pg_total_relation_size(c.oid) DESC LIMIT $1`,
    [top],
  );
  return {
    databaseBytes: Number(size.rows[0].bytes),
    tables: tables.rows.map((r) => ({
      table: r.table,
      rows: Number(r.rows),
      tableBytes: Number(r.table_bytes),
      indexBytes: Number(r.index_bytes),
    })),
  };
}

/** Saga ids drawn at random over the whole table (pages all over it, none the cache has seen). */
export async function sampleSagaIds(db: Client, wanted: number): Promise<string[]> {
  const total = await sagaCount(db);
  const percent = Math.min(100, ((wanted * 1.2) / Math.max(total, 1)) * 100);
  const { rows } = await db.query<{ transaction_id: string }>(
    `SELECT transaction_id FROM saga_states TABLESAMPLE BERNOULLI ($1) LIMIT $2`,
    [percent, wanted],
  );
  return rows.map((r) => r.transaction_id);
}
