import { Injectable } from '@nestjs/common';
import { JobsTransactionHost } from '../../database/work-pools';
import { compensationGaveUpCondition } from '../saga/core/saga';

/** Every row a finding query returns carries the number of findings in all, before the limit. */
interface Counted {
  total: string;
}

export interface BalanceFinding extends Counted {
  user_id: string;
  balance: string;
  credited_total: string;
  completed_total: string;
  in_flight_total: string;
  expected: string;
}

export interface StockFinding extends Counted {
  item_id: string;
  stock: number;
  stocked_total: number;
  completed_quantity: number;
  in_flight_quantity: number;
  expected: number;
}

export interface LogFinding extends Counted {
  transaction_id: string;
  user_id: string;
  status: string;
  completed_logs: number;
}

export interface InventoryFinding extends Counted {
  user_id: string;
  item_id: string;
  quantity: number;
  completed_quantity: number;
  in_flight_quantity: number;
}

export interface SagaFinding extends Counted {
  transaction_id: string;
  user_id: string;
  item_id: string;
  status: string;
  error_step: string | null;
  age_ms: string;
}

export interface OutboxFinding extends Counted {
  id: string;
  event_type: string;
  aggregate_id: string;
  attempts: number;
  age_ms: string;
}

export interface NegativeFinding extends Counted {
  kind: 'user' | 'item';
  id: string;
  amount: string;
}

/** Everything the reconciliation reads, taken from one snapshot of the database. */
export interface IntegrityFindings {
  balances: BalanceFinding[];
  stock: StockFinding[];
  logs: LogFinding[];
  inventory: InventoryFinding[];
  stuckSagas: SagaFinding[];
  failedCompensations: SagaFinding[];
  outbox: OutboxFinding[];
  negatives: NegativeFinding[];
}

/**
 * The reconciliation's SQL. Each query aggregates in the database and returns only the first
 * `limit` offending rows, with the total count of offenders alongside.
 */
@Injectable()
export class IntegrityRepository {
  constructor(private readonly tx: JobsTransactionHost) {}

  /**
   * Runs every query in one read-only REPEATABLE READ transaction, so they all see the same
   * snapshot (and now() is the same instant for all of them).
   */
  findAll(options: {
    sagaTimeoutMs: number;
    outboxMaxPendingMs: number;
    limit: number;
  }): Promise<IntegrityFindings> {
    const { limit } = options;
    return this.tx.run(async () => {
      await this.tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      // Its sums read whole tables: sequential scans, which the service's connections avoid.
      await this.tx.query('SET LOCAL enable_seqscan = on');
      return {
        balances: await this.balances(limit),
        stock: await this.stock(limit),
        logs: await this.logs(limit),
        inventory: await this.inventory(limit),
        stuckSagas: await this.stuckSagas(options.sagaTimeoutMs, limit),
        failedCompensations: await this.failedCompensations(limit),
        outbox: await this.staleOutbox(options.outboxMaxPendingMs, limit),
        negatives: await this.negatives(limit),
      };
    });
  }

  /**
   * credited_total = balance + completed totals (of the sagas kept, plus the purged totals of
   * those retention removed). A saga still in flight may hold a debit not yet
   * settled either way, so the balance may be lower by at most the in-flight totals.
   */
  private balances(limit: number): Promise<BalanceFinding[]> {
    return this.tx.query<BalanceFinding>(
      `WITH spent AS (
         SELECT user_id, sum(completed_total) AS completed_total, sum(in_flight_total) AS in_flight_total
         FROM (
           SELECT user_id,
                  COALESCE(sum(price) FILTER (WHERE status = 'completed'), 0) AS completed_total,
                  COALESCE(sum(price) FILTER (WHERE status IN ('pending', 'in_progress', 'compensating')), 0) AS in_flight_total
           FROM saga_states GROUP BY user_id
           UNION ALL
           SELECT user_id, sum(completed_total), 0 FROM saga_purged_totals GROUP BY user_id
         ) parts GROUP BY user_id
       ), checked AS (
         SELECT u.user_id, u.balance, u.credited_total,
                COALESCE(s.completed_total, 0) AS completed_total,
                COALESCE(s.in_flight_total, 0) AS in_flight_total,
                u.credited_total - COALESCE(s.completed_total, 0) AS expected
         FROM users u LEFT JOIN spent s ON s.user_id = u.user_id
       )
       SELECT user_id, balance::text, credited_total::text,
              completed_total::numeric(14,2)::text AS completed_total,
              in_flight_total::numeric(14,2)::text AS in_flight_total,
              expected::numeric(14,2)::text AS expected, count(*) OVER ()::text AS total
       FROM checked
       WHERE balance > expected OR balance < expected - in_flight_total
       ORDER BY user_id LIMIT $1`,
      [limit],
    );
  }

  /** stocked_total = stock + completed quantities, give or take the in-flight reservations. */
  private stock(limit: number): Promise<StockFinding[]> {
    return this.tx.query<StockFinding>(
      `WITH sold AS (
         SELECT item_id, sum(completed_quantity)::int AS completed_quantity,
                sum(in_flight_quantity)::int AS in_flight_quantity
         FROM (
           SELECT item_id,
                  COALESCE(sum(quantity) FILTER (WHERE status = 'completed'), 0) AS completed_quantity,
                  COALESCE(sum(quantity) FILTER (WHERE status IN ('pending', 'in_progress', 'compensating')), 0) AS in_flight_quantity
           FROM saga_states GROUP BY item_id
           UNION ALL
           SELECT item_id, sum(completed_quantity), 0 FROM saga_purged_totals GROUP BY item_id
         ) parts GROUP BY item_id
       ), checked AS (
         SELECT i.item_id, i.stock, i.stocked_total,
                COALESCE(s.completed_quantity, 0) AS completed_quantity,
                COALESCE(s.in_flight_quantity, 0) AS in_flight_quantity,
                i.stocked_total - COALESCE(s.completed_quantity, 0) AS expected
         FROM items i LEFT JOIN sold s ON s.item_id = i.item_id
       )
       SELECT item_id, stock, stocked_total, completed_quantity, in_flight_quantity, expected,
              count(*) OVER ()::text AS total
       FROM checked
       WHERE stock > expected OR stock < expected - in_flight_quantity
       ORDER BY item_id LIMIT $1`,
      [limit],
    );
  }

  /**
   * A completed saga has exactly one completed log; a compensated or failed one has none (a saga
   * in flight may already be past its pivot, so it is left out).
   */
  private logs(limit: number): Promise<LogFinding[]> {
    return this.tx.query<LogFinding>(
      `SELECT s.transaction_id, s.user_id, s.status,
              count(l.log_id)::int AS completed_logs, count(*) OVER ()::text AS total
       FROM saga_states s
       LEFT JOIN transaction_logs l ON l.transaction_id = s.transaction_id AND l.status = 'completed'
       WHERE s.status IN ('completed', 'compensated', 'failed')
       GROUP BY s.transaction_id, s.user_id, s.status
       HAVING count(l.log_id) <> CASE WHEN s.status = 'completed' THEN 1 ELSE 0 END
       ORDER BY s.transaction_id LIMIT $1`,
      [limit],
    );
  }

  /** What a user owns of an item = what its completed sagas granted (plus grants in flight). */
  private inventory(limit: number): Promise<InventoryFinding[]> {
    return this.tx.query<InventoryFinding>(
      `WITH granted AS (
         SELECT user_id, item_id, sum(completed_quantity)::int AS completed_quantity,
                sum(in_flight_quantity)::int AS in_flight_quantity
         FROM (
           SELECT user_id, item_id,
                  COALESCE(sum(quantity) FILTER (WHERE status = 'completed'), 0) AS completed_quantity,
                  COALESCE(sum(quantity) FILTER (WHERE status IN ('pending', 'in_progress', 'compensating')), 0) AS in_flight_quantity
           FROM saga_states GROUP BY user_id, item_id
           UNION ALL
           SELECT user_id, item_id, completed_quantity, 0 FROM saga_purged_totals
         ) parts GROUP BY user_id, item_id
       ), checked AS (
         SELECT COALESCE(ui.user_id, g.user_id) AS user_id, COALESCE(ui.item_id, g.item_id) AS item_id,
                COALESCE(ui.quantity, 0) AS quantity,
                COALESCE(g.completed_quantity, 0) AS completed_quantity,
                COALESCE(g.in_flight_quantity, 0) AS in_flight_quantity
         FROM user_inventory ui
         FULL JOIN granted g ON g.user_id = ui.user_id AND g.item_id = ui.item_id
       )
       SELECT user_id, item_id, quantity, completed_quantity, in_flight_quantity,
              count(*) OVER ()::text AS total
       FROM checked
       WHERE quantity < completed_quantity OR quantity > completed_quantity + in_flight_quantity
       ORDER BY user_id, item_id LIMIT $1`,
      [limit],
    );
  }

  /** Sagas still pending, in progress or compensating past the saga timeout. */
  private stuckSagas(timeoutMs: number, limit: number): Promise<SagaFinding[]> {
    return this.tx.query<SagaFinding>(
      `SELECT transaction_id, user_id, item_id, status, error_step,
              floor(extract(epoch FROM now() - created_at) * 1000)::text AS age_ms,
              count(*) OVER ()::text AS total
       FROM saga_states
       WHERE status IN ('pending', 'in_progress', 'compensating')
         AND created_at < now() - $1::int * interval '1 millisecond'
       ORDER BY created_at, transaction_id LIMIT $2`,
      [timeoutMs, limit],
    );
  }

  /** Sagas whose compensation gave up: their effects stand until an admin re-drives them. */
  private failedCompensations(limit: number): Promise<SagaFinding[]> {
    return this.tx.query<SagaFinding>(
      `SELECT transaction_id, user_id, item_id, status, error_step,
              floor(extract(epoch FROM now() - created_at) * 1000)::text AS age_ms,
              count(*) OVER ()::text AS total
       FROM saga_states
       WHERE ${compensationGaveUpCondition()}
       ORDER BY created_at, transaction_id LIMIT $1`,
      [limit],
    );
  }

  private staleOutbox(maxPendingMs: number, limit: number): Promise<OutboxFinding[]> {
    return this.tx.query<OutboxFinding>(
      `SELECT e.id::text, e.event_type, e.aggregate_id, p.attempts,
              floor(extract(epoch FROM now() - e.created_at) * 1000)::text AS age_ms,
              count(*) OVER ()::text AS total
       FROM outbox_pending p CROSS JOIN LATERAL unnest(p.event_ids) AS u(id)
       JOIN outbox_events e ON e.id = u.id
       WHERE e.created_at < now() - $1::int * interval '1 millisecond'
       ORDER BY e.id LIMIT $2`,
      [maxPendingMs, limit],
    );
  }

  /** The CHECK constraints forbid these; a dropped constraint would let them through. */
  private negatives(limit: number): Promise<NegativeFinding[]> {
    return this.tx.query<NegativeFinding>(
      `WITH found AS (
         SELECT 'user' AS kind, user_id AS id, balance::text AS amount FROM users WHERE balance < 0
         UNION ALL
         SELECT 'item', item_id, stock::text FROM items WHERE stock < 0
       )
       SELECT kind, id, amount, count(*) OVER ()::text AS total
       FROM found ORDER BY kind, id LIMIT $1`,
      [limit],
    );
  }
}
