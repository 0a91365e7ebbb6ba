import { Injectable } from '@nestjs/common';
import type { SagaPattern } from '../../../config/configuration';
import { ReportingTransactionHost } from '../../../database/work-pools';
import type { SagaRow } from '../core/saga.repository';
import {
  compensationGaveUpCondition,
  isTerminal,
  SAGA_STATUSES,
  TERMINAL_STATUSES,
  type SagaStatus,
} from '../core/saga';

/**
 * States an operator looks for beyond a status: `stuck`, open and either past its lease (no
 * driver renews it) or older than SAGA_TIMEOUT_MS; `compensation_failed`, failed by a
 * compensation that gave up (to be re-driven).
 */
export type SagaAttentionState = 'stuck' | 'compensation_failed';

/** Where a keyset page starts: after this row of the newest-first order (time to the µs). */
export interface SagaListCursor {
  createdAt: string;
  transactionId: string;
}

export interface SagaListFilter {
  status?: SagaStatus;
  pattern?: SagaPattern;
  userId?: string;
  createdFrom?: Date;
  createdTo?: Date;
  itemId?: string;
  transactionId?: string;
  idempotencyKey?: string;
  state?: SagaAttentionState;
  /** `stuck`: open sagas older than this are stuck whatever their lease. */
  stuckAfterMs?: number;
}

export type SagaSummaryRow = Pick<
  SagaRow,
  | 'transaction_id'
  | 'status'
  | 'pattern'
  | 'user_id'
  | 'item_id'
  | 'quantity'
  | 'price'
  | 'current_step'
  | 'error_step'
  | 'error_code'
  | 'error_message'
  | 'created_at'
  | 'completed_at'
  | 'failed_at'
  | 'definition_name'
  | 'definition_version'
>;

/** WHERE clause of a listing: fixed conditions, values only ever as parameters. */
export function listingWhere(filter: SagaListFilter): { sql: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown): void => {
    params.push(value);
    conditions.push(condition(`$${params.length}`));
  };
  if (filter.status !== undefined) add((p) => `status = ${p}`, filter.status);
  if (filter.pattern !== undefined) add((p) => `pattern = ${p}`, filter.pattern);
  if (filter.userId !== undefined) add((p) => `user_id = ${p}`, filter.userId);
  if (filter.createdFrom !== undefined) add((p) => `created_at >= ${p}`, filter.createdFrom);
  if (filter.createdTo !== undefined) add((p) => `created_at <= ${p}`, filter.createdTo);
  if (filter.itemId !== undefined) add((p) => `item_id = ${p}`, filter.itemId);
  if (filter.transactionId !== undefined) {
    add((p) => `transaction_id = ${p}`, filter.transactionId);
  }
  if (filter.idempotencyKey !== undefined) {
    add((p) => `idempotency_key = ${p}`, filter.idempotencyKey);
  }
  if (filter.state === 'compensation_failed') {
    conditions.push(compensationGaveUpCondition());
  }
  if (filter.state === 'stuck') {
    // Open sagas (the partial index idx_saga_states_open) no driver holds, or too old.
    add(
      (p) =>
        `status IN ('pending', 'in_progress', 'compensating') AND (lease_expires_at IS NULL OR lease_expires_at < now() OR created_at < now() - ${p}::int * interval '1 millisecond')`,
      filter.stuckAfterMs ?? 0,
    );
  }
  return { sql: conditions.length === 0 ? 'TRUE' : conditions.join(' AND '), params };
}

const NEWEST_FIRST = 'ORDER BY created_at DESC, transaction_id DESC';

const statusIn = (statuses: readonly SagaStatus[]): string =>
  `status IN (${statuses.map((status) => `'${status}'`).join(', ')})`;

/**
 * Where a listing filtered by item reads its sagas (see the ItemSettledIndex migration): the
 * settled ones through idx_saga_states_item_listing, whose predicate these words match, and the
 * open ones through idx_saga_states_open. Undefined for the other filters: one scan serves them.
 */
function listingBranches(filter: SagaListFilter): string[] | undefined {
  if (filter.itemId === undefined) return undefined;
  return [
    statusIn(TERMINAL_STATUSES),
    statusIn(SAGA_STATUSES.filter((status) => !isTerminal(status))),
  ];
}

/** The sagas a filter matches, one row each, unordered. */
function matchingSql(filter: SagaListFilter): { sql: string; params: unknown[] } {
  const where = listingWhere(filter);
  const conditions = listingBranches(filter)?.map((branch) => `${branch} AND ${where.sql}`) ?? [
    where.sql,
  ];
  return {
    sql: conditions
      .map((condition) => `SELECT 1 FROM saga_states WHERE ${condition}`)
      .join(' UNION ALL '),
    params: where.params,
  };
}

/** Listings of saga_states for operators, answered from the indexes. */
@Injectable()
export class SagaReportsRepository {
  constructor(private readonly tx: ReportingTransactionHost) {}

  /**
   * A page of sagas, newest first (transaction id breaks ties, so pages never overlap): after
   * `cursor` when given (keyset), else from `offset`. Each row carries its own cursor text.
   */
  page(
    filter: SagaListFilter,
    limit: number,
    offset: number,
    cursor?: SagaListCursor,
  ): Promise<(SagaSummaryRow & { cursor_created_at: string })[]> {
    const where = listingWhere(filter);
    const params = [...where.params];
    let sql = where.sql;
    if (cursor !== undefined) {
      params.push(cursor.createdAt, cursor.transactionId);
      sql += ` AND (created_at, transaction_id) < ($${params.length - 1}::timestamptz, $${params.length}::varchar)`;
    }
    params.push(limit, offset);
    const [limitAt, offsetAt] = [params.length - 1, params.length];
    const select = (condition: string) =>
      `SELECT transaction_id, status, pattern, user_id, item_id, quantity, price, current_step,
              error_step, error_code, error_message, created_at, completed_at, failed_at,
              definition_name, definition_version,
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                AS cursor_created_at
         FROM saga_states
        WHERE ${condition}`;
    const branches = listingBranches(filter);
    if (branches === undefined) {
      return this.tx.query(
        `${select(sql)} ${NEWEST_FIRST} LIMIT $${limitAt} OFFSET $${offsetAt}`,
        params,
      );
    }
    // Each branch reads its newest rows through its own index; the page is taken from them.
    params.push(limit + offset);
    const reach = params.length;
    return this.tx.query(
      `SELECT * FROM (${branches
        .map((branch) => `(${select(`${branch} AND ${sql}`)} ${NEWEST_FIRST} LIMIT $${reach})`)
        .join(' UNION ALL ')}) listed
        ${NEWEST_FIRST} LIMIT $${limitAt} OFFSET $${offsetAt}`,
      params,
    );
  }

  /** How many sagas match `filter`, counting no further than `cap + 1`. */
  async countUpTo(filter: SagaListFilter, cap: number): Promise<number> {
    const matching = matchingSql(filter);
    const row = await this.tx.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM (${matching.sql} LIMIT $${matching.params.length + 1}) capped`,
      [...matching.params, cap + 1],
    );
    return row?.n ?? 0;
  }

  /** The planner's estimate of how many sagas match `filter`: no row is read. */
  async estimate(filter: SagaListFilter): Promise<number> {
    const matching = matchingSql(filter);
    const row = await this.tx.one<{ 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }>(
      `EXPLAIN (FORMAT JSON) ${matching.sql}`,
      matching.params,
    );
    return Math.round(row?.['QUERY PLAN'][0]?.Plan['Plan Rows'] ?? 0);
  }
}
