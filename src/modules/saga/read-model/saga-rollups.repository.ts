import { Injectable } from '@nestjs/common';
import type { SagaPattern } from '../../../config/configuration';
import { JobsTransactionHost, ReportingTransactionHost } from '../../../database/work-pools';
import { compensationGaveUpCondition, type SagaStatus } from '../core/saga';

/** Any fixed 64-bit key shared by the instances: one folds at a time, the others skip. */
const FOLD_LOCK_KEY = 7_243_901_118_301;
/** Width of a finish slot (the migration's date_bin), and how long slots are kept. */
export const FINISH_SLOT_MS = 10_000;
const FINISH_SLOTS_KEPT = '1 day';

/** Sagas of one pattern and status, with the summed duration of those that have finished. */
export interface StatusTotalsRow {
  pattern: SagaPattern;
  status: SagaStatus;
  sagas: string;
  timed: string;
  duration_ms: string;
}

/** Sagas finished in a window, per duration bucket (see the SagaRollups migration). */
export interface FinishBucketRow {
  bucket: number;
  /** In the whole window. */
  finished: string;
  /** In the recent part of it (slots from `recentFrom`). */
  recent: string;
}

export interface FinishWindow {
  at: Date;
  /** Start of the oldest slot of the window, and of its recent part. */
  windowFrom: Date;
  recentFrom: Date;
  buckets: FinishBucketRow[];
}

export interface AttentionCounts {
  stuckRunning: string;
  compensationFailed: string;
}

/**
 * The saga rollups (SagaRollups migration): triggers record each change of saga_states as a few
 * delta rows; `fold` moves them into the totals; every read adds the deltas not folded yet, so
 * that figures are exact as of the reading's snapshot, at a cost that does not grow with the
 * number of sagas.
 */
@Injectable()
export class SagaRollupsRepository {
  constructor(
    /** The reads, with the other reports. */
    private readonly tx: ReportingTransactionHost,
    /** The fold, with the other jobs. */
    private readonly jobs: JobsTransactionHost,
  ) {}

  /**
   * Folds the recorded deltas into the totals, unless another instance is folding now (answers
   * false then). Rows inserted meanwhile stay for the next fold: a DELETE only takes the rows
   * its snapshot sees.
   */
  fold(): Promise<boolean> {
    return this.jobs.run(async () => {
      const lock = await this.jobs.one<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [FOLD_LOCK_KEY],
      );
      if (lock?.locked !== true) return false;
      await this.jobs.query(
        `WITH moved AS (DELETE FROM saga_count_deltas RETURNING *)
         INSERT INTO saga_status_totals AS t (pattern, status, sagas, timed, duration_ms)
         SELECT pattern, status, sum(sagas), sum(timed), sum(duration_ms)
         FROM moved GROUP BY pattern, status
         ON CONFLICT (pattern, status) DO UPDATE SET sagas = t.sagas + excluded.sagas,
           timed = t.timed + excluded.timed, duration_ms = t.duration_ms + excluded.duration_ms`,
      );
      await this.jobs.query(
        `WITH moved AS (DELETE FROM saga_finish_deltas RETURNING *)
         INSERT INTO saga_finish_slots AS t (slot, pattern, status, bucket, finished, duration_ms)
         SELECT slot, pattern, status, bucket, sum(finished), sum(duration_ms)
         FROM moved GROUP BY slot, pattern, status, bucket
         ON CONFLICT (slot, pattern, status, bucket) DO UPDATE SET
           finished = t.finished + excluded.finished,
           duration_ms = t.duration_ms + excluded.duration_ms`,
      );
      // One statement: a snapshot sees the deltas either here or in the totals and the change
      // log. The log takes the changed pairs in key order, numbered in that order (integrity
      // reads it by number, and looks the pairs up in key order).
      await this.jobs.query(
        `WITH moved AS (DELETE FROM saga_ledger_deltas RETURNING *),
         pairs AS (
           INSERT INTO saga_ledger_totals AS t (user_id, item_id, completed_sagas, completed_total,
             completed_quantity)
           SELECT user_id, item_id, sum(completed_sagas), sum(completed_total),
                  sum(completed_quantity)
           FROM moved GROUP BY user_id, item_id
           ON CONFLICT (user_id, item_id) DO UPDATE SET
             completed_sagas = t.completed_sagas + excluded.completed_sagas,
             completed_total = t.completed_total + excluded.completed_total,
             completed_quantity = t.completed_quantity + excluded.completed_quantity
           RETURNING user_id, item_id, completed_quantity),
         changes AS (
           INSERT INTO saga_ledger_changes (seq, user_id, item_id, completed_quantity)
           SELECT nextval('saga_ledger_change_seq'), user_id, item_id, completed_quantity
           FROM (SELECT * FROM pairs ORDER BY user_id, item_id) ordered),
         users AS (
           INSERT INTO saga_user_totals AS t (user_id, completed_total)
           SELECT user_id, sum(completed_total) FROM moved GROUP BY user_id
           ON CONFLICT (user_id) DO UPDATE SET
             completed_total = t.completed_total + excluded.completed_total)
         INSERT INTO saga_item_totals AS t (item_id, completed_quantity)
         SELECT item_id, sum(completed_quantity) FROM moved GROUP BY item_id
         ON CONFLICT (item_id) DO UPDATE SET
           completed_quantity = t.completed_quantity + excluded.completed_quantity`,
      );
      await this.jobs.query(`DELETE FROM saga_finish_slots WHERE slot < now() - $1::interval`, [
        FINISH_SLOTS_KEPT,
      ]);
      return true;
    });
  }

  /**
   * Vacuums the tables the folds empty and the slots they trim, the few rows every fold
   * updates, and the change log that integrity trims once checked, so that reading them stays as
   * cheap as their live rows, with autovacuum off or behind (each fold leaves its rows dead). The ledger and user totals, a row per pair or per
   * user, are left to autovacuum: each fold updates only the rows that changed.
   */
  async vacuum(): Promise<void> {
    await this.jobs.query(
      `VACUUM saga_count_deltas, saga_finish_deltas, saga_ledger_deltas, saga_finish_slots,
         saga_status_totals, saga_item_totals, saga_ledger_changes`,
    );
  }

  /** Sagas per pattern and status now: the totals plus the deltas not folded yet. */
  async statusTotals(): Promise<{ at: Date; rows: StatusTotalsRow[] }> {
    const row = await this.tx.one<{ at: Date; rows: StatusTotalsRow[] }>(
      `SELECT now() AS at, COALESCE((
         SELECT json_agg(t) FROM (
           SELECT pattern, status, sum(sagas)::text AS sagas, sum(timed)::text AS timed,
                  sum(duration_ms)::text AS duration_ms
           FROM (SELECT pattern, status, sagas, timed, duration_ms FROM saga_status_totals
                 UNION ALL
                 SELECT pattern, status, sagas, timed, duration_ms FROM saga_count_deltas) parts
           GROUP BY pattern, status
           HAVING sum(sagas) <> 0) t), '[]'::json) AS rows`,
    );
    if (row === undefined) throw new Error('The totals query returned no row');
    return row;
  }

  /**
   * Sagas that reached a final status in the slots overlapping the last `windowMs` (the current
   * slot included), per duration bucket, and how many of them in the slots overlapping the last
   * `recentMs`.
   */
  async finishWindow(windowMs: number, recentMs: number): Promise<FinishWindow> {
    const row = await this.tx.one<FinishWindow>(
      `WITH now_slot AS (
         SELECT now() AS at,
                date_bin($3::int * interval '1 millisecond', now(), timestamptz '2000-01-01') AS slot
       ), bounds AS (
         SELECT at, slot - ($1::int - $3::int) * interval '1 millisecond' AS window_from,
                slot - ($2::int - $3::int) * interval '1 millisecond' AS recent_from
         FROM now_slot
       ), slots AS (
         SELECT f.slot, f.bucket, f.finished FROM saga_finish_slots f, bounds b
         WHERE f.slot >= b.window_from
         UNION ALL
         SELECT f.slot, f.bucket, f.finished FROM saga_finish_deltas f, bounds b
         WHERE f.slot >= b.window_from
       )
       SELECT b.at, b.window_from AS "windowFrom", b.recent_from AS "recentFrom",
              COALESCE((SELECT json_agg(t) FROM (
                SELECT s.bucket, sum(s.finished)::text AS finished,
                       COALESCE(sum(s.finished) FILTER (WHERE s.slot >= b.recent_from), 0)::text
                         AS recent
                FROM slots s GROUP BY s.bucket ORDER BY s.bucket) t), '[]'::json) AS buckets
       FROM bounds b`,
      [windowMs, recentMs, FINISH_SLOT_MS],
    );
    if (row === undefined) throw new Error('The finish window query returned no row');
    return {
      ...row,
      at: new Date(row.at),
      windowFrom: new Date(row.windowFrom),
      recentFrom: new Date(row.recentFrom),
    };
  }

  /**
   * Sagas needing attention, each count read from its partial index (open sagas; compensations
   * that gave up), so it grows with those sagas alone.
   */
  async attention(stuckAfterMs: number): Promise<AttentionCounts> {
    const row = await this.tx.one<AttentionCounts>(
      `SELECT
         (SELECT count(*) FROM saga_states
          WHERE status IN ('pending', 'in_progress', 'compensating')
            AND created_at < now() - $1::int * interval '1 millisecond')::text AS "stuckRunning",
         (SELECT count(*) FROM saga_states WHERE ${compensationGaveUpCondition()})::text
           AS "compensationFailed"`,
      [stuckAfterMs],
    );
    if (row === undefined) throw new Error('The attention query returned no row');
    return row;
  }
}
