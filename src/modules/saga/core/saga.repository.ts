import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig, SagaPattern } from '../../../config/configuration';
import { TransactionHost } from '../../../database/transaction-host';
import { ReportingTransactionHost } from '../../../database/work-pools';
import type { SagaDefinitionRef } from './definition/saga-definition';
import { CURRENT_PURCHASE_DEFINITION, registeredPairs } from './definition/saga-definitions';
import type { StepKind, StepResultStatus } from './saga-step-result.entity';
import type { SagaError, StepData } from './saga';
import { COMPENSATION_FAILED, type SagaStatus, isTerminal } from './saga';

export interface SagaRow {
  transaction_id: string;
  pattern: SagaPattern;
  status: SagaStatus;
  current_step: string | null;
  user_id: string;
  item_id: string;
  quantity: number;
  price: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  error_step: string | null;
  error_code: string | null;
  error_message: string | null;
  version: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  failed_at: Date | null;
  trace_parent: string | null;
  definition_name: string;
  definition_version: number;
  definition_hash: string;
}

export interface StepRow {
  id: string;
  transaction_id: string;
  step: string;
  kind: StepKind;
  status: StepResultStatus;
  data: StepData | null;
  error_code: string | null;
  error_message: string | null;
  duration_ms: number;
  executed_at: Date;
}

/** An open saga as a move between definition versions reads it (locked). */
export interface OpenSagaOfDefinition {
  transaction_id: string;
  pattern: SagaPattern;
  status: SagaStatus;
  current_step: string | null;
  /** Forward steps committed, in order (their names as recorded, whatever the build). */
  completed: string[];
  compensated: string[];
}

/** A saga moved to another definition version, as it now stands. */
export interface MovedSaga {
  transaction_id: string;
  pattern: SagaPattern;
  status: SagaStatus;
  version: number;
  created_at: Date;
}

/** The delivery state of a saga's notification (see NotificationsService). */
export interface NotificationState {
  notificationId: string;
  status: 'pending' | 'delivered' | 'failed';
  channels: string[];
  deliveredAt: Date | null;
  error: string | null;
}

/** A saga as read: its row, its step rows, and its notification once recorded. */
export interface SagaWithSteps {
  row: SagaRow;
  steps: StepRow[];
  notification: NotificationState | null;
  /** How many times its notification's delivery state changed (0: none, or no notification). */
  notificationRevision: number;
}

export interface NewSaga {
  transactionId: string;
  pattern: SagaPattern;
  status: SagaStatus;
  userId: string;
  itemId: string;
  quantity: number;
  total: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  error: SagaError | null;
  leaseOwner: string;
  leaseMs: number;
  /** The trace the saga joins (W3C traceparent); null with tracing off. */
  traceParent: string | null;
}

/** A transition: the new status, and optionally the step now current and the saga's error. */
export interface SagaTransition {
  status: SagaStatus;
  currentStep?: string;
  /** undefined keeps the recorded error; null clears it. */
  error?: SagaError | null;
  leaseOwner: string;
  leaseMs: number;
}

export interface StepResult {
  step: string;
  kind: StepKind;
  status: StepResultStatus;
  data: StepData | null;
  errorCode: string | null;
  errorMessage: string | null;
  durationMs: number;
}

/** A fenced transition and, for a step or compensation, the result row written with it. */
export interface FencedTransition {
  transactionId: string;
  expectedVersion: number;
  change: SagaTransition;
  result?: StepResult;
}

/**
 * The integration events a saga row's change raises, as rows of a SELECT over `src` (the changed
 * saga rows, with their new columns) joined to `r` (the request, for the step that caused it):
 * notification.requested when the notification step succeeded, then the purchase's outcome when
 * the saga reached a terminal status. Only inserted while a sink is configured.
 */
function raisedEvents(src: string, stepColumns: boolean): string {
  const notified = stepColumns
    ? `CASE WHEN r.step = 'notification' AND r.kind = 'forward' AND r.result_status = 'success'
            THEN 'notification.requested' END`
    : 'NULL';
  const notification = stepColumns
    ? `CASE WHEN e.ord = 1 THEN jsonb_build_object('notificationId', r.data->>'notificationId',
                                                   'channels', r.data->'channels')
            ELSE '{}'::jsonb END`
    : `'{}'::jsonb`;
  // seq is drawn outside the ordered subquery: a column default would be drawn before the sort.
  return `INSERT INTO integration_events (seq, type, transaction_id, data, trace_parent)
         SELECT nextval('integration_events_seq_seq'), o.type, o.transaction_id, o.data,
                o.trace_parent
         FROM (
         SELECT e.type, f.transaction_id,
           jsonb_build_object('userId', f.user_id, 'itemId', f.item_id, 'quantity', f.quantity,
                              'total', f.price, 'status', f.status, 'pattern', f.pattern)
           || CASE WHEN e.ord = 2 AND f.error_code IS NOT NULL
                   THEN jsonb_build_object('error', jsonb_build_object('step', f.error_step,
                          'code', f.error_code, 'message', f.error_message))
                   ELSE '{}'::jsonb END
           || ${notification},
           f.trace_parent
         FROM ${src}
         CROSS JOIN LATERAL (VALUES
           (1, ${notified}),
           (2, CASE f.status WHEN 'completed' THEN 'purchase.completed'
                             WHEN 'compensated' THEN 'purchase.compensated'
                             WHEN 'failed' THEN CASE WHEN f.error_code = '${COMPENSATION_FAILED}'
                                                     THEN 'purchase.compensation_failed'
                                                     ELSE 'purchase.failed' END END)
         ) AS e(ord, type)
         WHERE e.type IS NOT NULL
         ORDER BY r.ord, e.ord
         ) AS o(type, transaction_id, data, trace_parent)
         RETURNING 1`;
}

/** applyTransitions' statement; with `raising`, it also writes the integration events. */
function applyTransitionsSql(raising: boolean): string {
  const returned = raising
    ? `s.transaction_id, s.version, s.status, s.user_id, s.item_id, s.quantity, s.price,
           s.pattern, s.error_step, s.error_code, s.error_message, s.trace_parent`
    : 's.transaction_id, s.version';
  const events = raising
    ? `,
       raised AS (
         ${raisedEvents('req r JOIN fenced f ON f.transaction_id = r.transaction_id', true)}
       )`
    : '';
  return `WITH req AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(ord int, transaction_id varchar,
           version int, status varchar, current_step varchar, keep_error boolean,
           error_step varchar, error_code varchar, error_message text, lease_owner varchar,
           lease_ms int, step varchar, kind varchar, result_status varchar, data jsonb,
           result_error_code varchar, result_error_message text, duration_ms int)
       ),
       fenced AS (
         UPDATE saga_states s SET
           version = s.version + 1,
           status = r.status,
           current_step = COALESCE(r.current_step, s.current_step),
           error_step = CASE WHEN r.keep_error THEN s.error_step ELSE r.error_step END,
           error_code = CASE WHEN r.keep_error THEN s.error_code ELSE r.error_code END,
           error_message = CASE WHEN r.keep_error THEN s.error_message ELSE r.error_message END,
           completed_at = CASE WHEN r.status = 'completed' THEN now() ELSE s.completed_at END,
           failed_at = CASE WHEN r.status IN ('failed', 'compensated') THEN now() ELSE s.failed_at END,
           lease_owner = CASE WHEN r.status IN ('completed', 'failed', 'compensated') THEN NULL
                              ELSE r.lease_owner END,
           lease_expires_at = CASE WHEN r.status IN ('completed', 'failed', 'compensated') THEN NULL
                                   ELSE now() + r.lease_ms * interval '1 millisecond' END,
           updated_at = now()
         FROM req r
         WHERE s.transaction_id = r.transaction_id AND s.version = r.version
           AND s.transaction_id = ANY($2::varchar[])
         RETURNING ${returned}
       ),
       recorded AS (
         INSERT INTO saga_step_results (transaction_id, step, kind, status, data, error_code, error_message, duration_ms)
         SELECT r.transaction_id, r.step, r.kind, r.result_status, r.data, r.result_error_code,
                r.result_error_message, r.duration_ms
         FROM req r JOIN fenced f ON f.transaction_id = r.transaction_id
         WHERE r.step IS NOT NULL
         ORDER BY r.ord
         RETURNING id
       )${events}
       SELECT CASE WHEN f.version IS NULL AND $3::boolean THEN saga_fence_lost(r.transaction_id)
                   ELSE f.version END AS version
       FROM req r LEFT JOIN fenced f ON f.transaction_id = r.transaction_id
       ORDER BY r.ord`;
}

// Two fixed texts, chosen once per call: with no sink the statement is exactly what it was.
const APPLY_TRANSITIONS = applyTransitionsSql(false);
const APPLY_TRANSITIONS_RAISING = applyTransitionsSql(true);

/** insertMany's statement; with `raising`, a saga recorded already failed raises purchase.failed. */
function insertSagasSql(raising: boolean): string {
  const insert = `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price,
         idempotency_key, request_hash, error_step, error_code, error_message, lease_owner,
         lease_expires_at, failed_at, trace_parent, definition_name, definition_version,
         definition_hash)
       SELECT r.transaction_id, r.pattern, r.status, r.user_id, r.item_id, r.quantity, r.price,
         r.idempotency_key, r.request_hash, r.error_step, r.error_code, r.error_message,
         CASE WHEN r.terminal THEN NULL ELSE r.lease_owner END,
         CASE WHEN r.terminal THEN NULL ELSE now() + r.lease_ms * interval '1 millisecond' END,
         CASE WHEN r.status = 'failed' THEN now() END, r.trace_parent, $2::varchar, $3::int,
         $4::varchar
       FROM jsonb_to_recordset($1::jsonb) AS r(ord int, transaction_id varchar, pattern varchar,
         status varchar, user_id varchar, item_id varchar, quantity int, price numeric,
         idempotency_key varchar, request_hash varchar, error_step varchar, error_code varchar,
         error_message text, terminal boolean, lease_owner varchar, lease_ms int,
         trace_parent varchar)
       ORDER BY r.ord
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING *`;
  if (!raising) return insert;
  return `WITH inserted AS (${insert}),
       raised AS (
         ${raisedEvents(
           `inserted f JOIN (SELECT ord, transaction_id FROM jsonb_to_recordset($1::jsonb)
              AS x(ord int, transaction_id varchar)) r ON r.transaction_id = f.transaction_id`,
           false,
         )}
       )
       SELECT * FROM inserted`;
}

const INSERT_SAGAS = insertSagasSql(false);
const INSERT_SAGAS_RAISING = insertSagasSql(true);

@Injectable()
export class SagaRepository {
  /** Whether a saga's changes write their integration events (a sink is configured). */
  private readonly eventsEnabled: boolean;

  constructor(
    private readonly tx: TransactionHost,
    private readonly reporting: ReportingTransactionHost,
    config: ConfigService<AppConfig, true>,
  ) {
    this.eventsEnabled = config.get('events', { infer: true }).enabled;
  }

  /**
   * Inserts sagas in one statement, each on the current definition; per saga in order, its row, or undefined when its
   * idempotency key is already taken (by an earlier saga, or an earlier one of the same call).
   */
  async insertMany(sagas: readonly NewSaga[]): Promise<(SagaRow | undefined)[]> {
    const rows = await this.tx.query<SagaRow>(
      this.eventsEnabled ? INSERT_SAGAS_RAISING : INSERT_SAGAS,
      [
        JSON.stringify(
          sagas.map((saga, ord) => ({
            ord,
            transaction_id: saga.transactionId,
            pattern: saga.pattern,
            status: saga.status,
            user_id: saga.userId,
            item_id: saga.itemId,
            quantity: saga.quantity,
            price: saga.total,
            idempotency_key: saga.idempotencyKey,
            request_hash: saga.requestHash,
            error_step: saga.error?.step ?? null,
            error_code: saga.error?.code ?? null,
            error_message: saga.error?.message ?? null,
            terminal: isTerminal(saga.status),
            lease_owner: saga.leaseOwner,
            lease_ms: saga.leaseMs,
            trace_parent: saga.traceParent,
          })),
        ),
        // Every saga starts on the current definition: the same three values for the batch.
        CURRENT_PURCHASE_DEFINITION.name,
        CURRENT_PURCHASE_DEFINITION.version,
        CURRENT_PURCHASE_DEFINITION.hash,
      ],
    );
    const byId = new Map(rows.map((row) => [row.transaction_id, row]));
    return sagas.map((saga) => byId.get(saga.transactionId));
  }

  findStatus(transactionId: string): Promise<{ status: SagaStatus; version: number } | undefined> {
    return this.tx.one<{ status: SagaStatus; version: number }>(
      'SELECT status, version FROM saga_states WHERE transaction_id = $1',
      [transactionId],
    );
  }

  findByIdempotencyKey(key: string): Promise<SagaRow | undefined> {
    return this.tx.one<SagaRow>('SELECT * FROM saga_states WHERE idempotency_key = $1', [key]);
  }

  /**
   * A saga, its step rows and its notification's delivery state in one statement (one
   * consistent snapshot: the saga's row version and the notification's revision name it).
   */
  async findWithSteps(transactionId: string): Promise<SagaWithSteps | undefined> {
    const [found] = await this.findManyWithSteps([transactionId]);
    return found;
  }

  /** Sagas as findWithSteps reads them, in one statement; per id in order, undefined when unknown. */
  async findManyWithSteps(
    transactionIds: readonly string[],
  ): Promise<(SagaWithSteps | undefined)[]> {
    const found = await this.tx.query<
      SagaRow & {
        steps: (Omit<StepRow, 'executed_at'> & { executed_at: string })[];
        notification:
          | (Omit<NotificationState, 'deliveredAt'> & {
              deliveredAt: string | null;
              revision: number;
            })
          | null;
      }
    >(
      `SELECT s.*, COALESCE((SELECT json_agg(r ORDER BY r.id) FROM saga_step_results r
                             WHERE r.transaction_id = s.transaction_id), '[]'::json) AS steps,
              (SELECT json_build_object('notificationId', n.notification_id, 'status', n.status,
                        'channels', n.channels, 'deliveredAt', n.delivered_at, 'error', n.error,
                        'revision', n.revision)
               FROM notifications n
               WHERE n.transaction_id = s.transaction_id AND n.type = 'purchase_success') AS notification
       FROM saga_states s WHERE s.transaction_id = ANY($1::varchar[])`,
      [transactionIds],
    );
    const byId = new Map(
      found.map(({ steps, notification, ...row }) => {
        const { revision = 0, deliveredAt = null, ...state } = notification ?? {};
        return [
          row.transaction_id,
          {
            row,
            notificationRevision: revision,
            steps: steps.map((step) => ({
              ...step,
              id: String(step.id),
              executed_at: new Date(step.executed_at),
            })),
            notification:
              notification === null
                ? null
                : {
                    ...(state as Omit<NotificationState, 'deliveredAt'>),
                    deliveredAt: deliveredAt === null ? null : new Date(deliveredAt),
                  },
          },
        ];
      }),
    );
    return transactionIds.map((id) => byId.get(id));
  }

  /**
   * Locks, in key order until the transaction ends, those of the given sagas still at their
   * expected version, and answers their ids: a batch's fence, taken before its effects.
   */
  async lockAtVersions(
    sagas: readonly { transactionId: string; version: number }[],
  ): Promise<Set<string>> {
    const rows = await this.tx.query<{ transaction_id: string }>(
      `SELECT s.transaction_id FROM saga_states s
       JOIN unnest($1::varchar[], $2::int[]) AS r(transaction_id, version)
         ON s.transaction_id = r.transaction_id AND s.version = r.version
       ORDER BY s.transaction_id
       FOR NO KEY UPDATE OF s`,
      [sagas.map((saga) => saga.transactionId), sagas.map((saga) => saga.version)],
    );
    return new Set(rows.map((row) => row.transaction_id));
  }

  /**
   * Applies a transition only if the saga is still at `expectedVersion` (fencing: a driver that
   * lost the saga to another cannot write), locking the row until the transaction ends and
   * renewing the driver's lease. Returns the new version, or undefined when stale.
   */
  async transition(
    transactionId: string,
    expectedVersion: number,
    change: SagaTransition,
  ): Promise<number | undefined> {
    const [version] = await this.applyTransitions([{ transactionId, expectedVersion, change }]);
    return version;
  }

  /**
   * Fenced transitions of several sagas in one statement, each applied only if its saga is still
   * at the expected version, with its result row written only then (a second success of one
   * step violates `uq_saga_step_results_success`). Returns, in order, each new version, or
   * undefined when stale. The rows stay locked until the transaction ends.
   *
   * `locked`: the caller holds the rows locked at these versions (`lockAtVersions`), so every
   * transition must apply. One that does not fails the statement, and so its transaction,
   * instead of answering undefined: the caller may then send its COMMIT without awaiting this.
   */
  async applyTransitions(
    transitions: readonly FencedTransition[],
    { locked = false }: { locked?: boolean } = {},
  ): Promise<(number | undefined)[]> {
    const rows = await this.tx.query<{ version: number | null }>(
      this.eventsEnabled ? APPLY_TRANSITIONS_RAISING : APPLY_TRANSITIONS,
      [
        JSON.stringify(
          transitions.map(({ transactionId, expectedVersion, change, result }, ord) => ({
            ord,
            transaction_id: transactionId,
            version: expectedVersion,
            status: change.status,
            current_step: change.currentStep ?? null,
            keep_error: change.error === undefined,
            error_step: change.error?.step ?? null,
            error_code: change.error?.code ?? null,
            error_message: change.error?.message ?? null,
            lease_owner: change.leaseOwner,
            lease_ms: change.leaseMs,
            step: result?.step ?? null,
            kind: result?.kind ?? null,
            result_status: result?.status ?? null,
            data: result?.data ?? null,
            result_error_code: result?.errorCode ?? null,
            result_error_message: result?.errorMessage ?? null,
            duration_ms: result?.durationMs ?? null,
          })),
        ),
        // The ids again, as an array the planner sees the size of: the sagas are reached through
        // their primary key however many rows the table has.
        transitions.map((transition) => transition.transactionId),
        locked,
      ],
    );
    return rows.map((row) => row.version ?? undefined);
  }

  /**
   * Claims non-terminal sagas of a registered definition whose driver's lease expired (it died, or hung), oldest lease
   * first. SKIP LOCKED keeps instances off each other's claims; the version bump fences out the
   * previous driver should it wake up.
   */
  claimExpired(owner: string, leaseMs: number, limit: number): Promise<SagaRow[]> {
    // Only sagas of a definition this build has: the others wait for an instance that has it.
    const registered = registeredPairs();
    return this.tx.query<SagaRow>(
      `UPDATE saga_states SET lease_owner = $1,
         lease_expires_at = now() + $2::int * interval '1 millisecond',
         attempts = attempts + 1, version = version + 1, updated_at = now()
       WHERE transaction_id IN (
         SELECT transaction_id FROM saga_states
         WHERE status IN ('pending', 'in_progress', 'compensating')
           AND (lease_expires_at IS NULL OR lease_expires_at < now())
           AND (definition_name, definition_version) IN (
             SELECT * FROM unnest($4::varchar[], $5::int[]))
         ORDER BY lease_expires_at NULLS FIRST
         LIMIT $3
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, leaseMs, limit, registered.names, registered.versions],
    );
  }

  /**
   * Expires the leases `owner` holds on open sagas, for recovery to claim them at its next pass
   * (which fences out any driver still at work). Answers how many.
   */
  async expireLeasesOf(owner: string): Promise<number> {
    const row = await this.tx.one<{ n: number }>(
      `WITH expired AS (
         UPDATE saga_states SET lease_expires_at = NULL
         WHERE status IN ('pending', 'in_progress', 'compensating')
           AND lease_owner = $1 AND lease_expires_at IS NOT NULL
         RETURNING 1)
       SELECT count(*)::int AS n FROM expired`,
      [owner],
    );
    return row?.n ?? 0;
  }

  /** The step rows of several sagas at once, in order. */
  findStepsOf(transactionIds: string[]): Promise<StepRow[]> {
    return this.tx.query<StepRow>(
      'SELECT * FROM saga_step_results WHERE transaction_id = ANY($1) ORDER BY id',
      [transactionIds],
    );
  }

  /**
   * A report: a user's sagas of one pattern, newest first, with how many steps and undos
   * committed.
   */
  listByUser(
    userId: string,
    pattern: SagaPattern,
    limit: number,
  ): Promise<(SagaRow & { steps_completed: number; compensations_executed: number })[]> {
    return this.reporting.query(
      `SELECT s.*,
         (SELECT count(*)::int FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
            AND r.kind = 'forward' AND r.status = 'success') AS steps_completed,
         (SELECT count(*)::int FROM saga_step_results r WHERE r.transaction_id = s.transaction_id
            AND r.kind = 'compensation' AND r.status = 'success') AS compensations_executed
       FROM saga_states s WHERE s.user_id = $1 AND s.pattern = $2
       ORDER BY s.created_at DESC, s.transaction_id LIMIT $3`,
      [userId, pattern, limit],
    );
  }

  /**
   * Locks, until the transaction ends, the open sagas of one definition version, in key order,
   * and answers each with the steps it committed: what a move to another version checks.
   */
  lockOpenOfDefinition(ref: SagaDefinitionRef): Promise<OpenSagaOfDefinition[]> {
    return this.tx.query<OpenSagaOfDefinition>(
      `SELECT s.transaction_id, s.pattern, s.status, s.current_step,
         ARRAY(SELECT r.step FROM saga_step_results r
               WHERE r.transaction_id = s.transaction_id AND r.kind = 'forward'
                 AND r.status = 'success' ORDER BY r.id)::text[] AS completed,
         ARRAY(SELECT r.step FROM saga_step_results r
               WHERE r.transaction_id = s.transaction_id AND r.kind = 'compensation'
                 AND r.status = 'success' ORDER BY r.id)::text[] AS compensated
       FROM saga_states s
       WHERE s.status IN ('pending', 'in_progress', 'compensating')
         AND s.definition_name = $1 AND s.definition_version = $2
       ORDER BY s.transaction_id
       FOR UPDATE OF s`,
      [ref.name, ref.version],
    );
  }

  /**
   * Moves sagas (locked by lockOpenOfDefinition) to another definition. The version bump fences
   * out whoever drove them and drops their cached views; the lease is let go for recovery, on an
   * instance that has the new definition, to claim them at once. Answers them as they now stand.
   */
  moveToDefinition(
    transactionIds: readonly string[],
    to: SagaDefinitionRef & { hash: string },
  ): Promise<MovedSaga[]> {
    return this.tx.query<MovedSaga>(
      `UPDATE saga_states SET definition_name = $2, definition_version = $3,
         definition_hash = $4, version = version + 1, lease_expires_at = NULL, updated_at = now()
       WHERE transaction_id = ANY($1::varchar[])
       RETURNING transaction_id, pattern, status, version, created_at`,
      [transactionIds, to.name, to.version, to.hash],
    );
  }

  /** Open (not terminal) sagas per definition version: the partial open-sagas index serves it. */
  openPerDefinition(): Promise<{ name: string; version: number; open: number }[]> {
    return this.reporting.query<{ name: string; version: number; open: number }>(
      `SELECT definition_name AS name, definition_version AS version, count(*)::int AS open
       FROM saga_states WHERE status IN ('pending', 'in_progress', 'compensating')
       GROUP BY definition_name, definition_version
       ORDER BY definition_name, definition_version`,
    );
  }
}
