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

export interface RollupFinding extends Counted {
  kind: 'ledger' | 'user' | 'item' | 'status';
  /** `user/item` for the ledger, the user or item for their totals, `pattern/status` for the status totals. */
  key: string;
  /** From a recount of saga_states. */
  expected: string;
  /** From the rollups. */
  actual: string;
}

/** Where the last reconciliation got to: the ledger changes and the finished sagas it covered. */
export interface IntegrityCheckpoint {
  ledgerSeq: string;
  /** Sagas finished since are checked (the epoch: none checked yet). */
  finishedAfter: Date;
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
  /** Only a full reconciliation recounts the rollups. */
  rollups: RollupFinding[];
  /** What the snapshot covered, for the next incremental run to start from. */
  covered: IntegrityCheckpoint;
}

/** A slice of an incremental run: its findings, and whether changes are left past it. */
export interface IntegritySlice {
  findings: IntegrityFindings;
  pairs: number;
  sagas: number;
  more: boolean;
}

/**
 * What a query checks: every user, item and pair; or the (user, item) pairs of a slice of the
 * ledger's change log (and of the changes not folded yet), and their users and items.
 */
type Scope =
  | { kind: 'all' }
  | {
      kind: 'changed';
      /** The slice: the changes numbered after `after`, up to `upTo` (as text: bigint). */
      after: string;
      upTo: string;
      /**
       * The slice reaches the end of the log in its snapshot: a pair's last change in it holds
       * its folded quantity then, and the pairs known only from the deltas not folded yet are
       * checked with it. An earlier slice's pairs may have changed since: their folded quantity
       * is read from the totals.
       */
      last: boolean;
    };

/**
 * The CTE `pairs` (user_id, item_id, kept: the folded quantity, null to read from the totals)
 * of a slice, in key order, each pair once; its parameters are $1-$3. The slice is one range of
 * the change log: contiguous pages, read through its primary key. Sorted byte by byte, a third
 * faster than by the database's collation: the order only gives the look-ups their locality.
 */
const SLICE_PAIRS = `changed AS (
         SELECT DISTINCT ON (c.user_id COLLATE "C", c.item_id COLLATE "C") c.user_id, c.item_id,
                CASE WHEN $3::boolean THEN c.completed_quantity END AS kept
         FROM saga_ledger_changes c WHERE c.seq > $1::bigint AND c.seq <= $2::bigint
         ORDER BY c.user_id COLLATE "C", c.item_id COLLATE "C", c.seq DESC
       ), pairs AS MATERIALIZED (
         SELECT user_id, item_id, kept FROM changed
         UNION ALL
         SELECT DISTINCT d.user_id, d.item_id, NULL::bigint FROM saga_ledger_deltas d
         WHERE $3::boolean AND NOT EXISTS (
           SELECT 1 FROM changed c WHERE c.user_id = d.user_id AND c.item_id = d.item_id)
       )`;

const sliceParams = (scope: Extract<Scope, { kind: 'changed' }>): unknown[] => [
  scope.after,
  scope.upTo,
  scope.last,
];

/**
 * The CTEs a scope puts before a query on users or items, the condition it puts on their id
 * column, and the parameters it takes (the query's own follow).
 */
function inScope(
  scope: Scope,
  of: 'user' | 'item',
): { with: string; where: (column: string) => string; params: unknown[] } {
  if (scope.kind === 'all') return { with: '', where: () => 'TRUE', params: [] };
  return {
    // Straight from the range, hashed: no need for the pairs' order here.
    with: `owners AS MATERIALIZED (
         SELECT c.${of}_id AS id FROM saga_ledger_changes c
         WHERE c.seq > $1::bigint AND c.seq <= $2::bigint
         UNION
         SELECT d.${of}_id FROM saga_ledger_deltas d WHERE $3::boolean),`,
    where: (column) => `${column} IN (SELECT id FROM owners)`,
    params: sliceParams(scope),
  };
}

/**
 * A user's or an item's totals (kept: a, purged: b, in all: c) against a recount of the ledger
 * and purged totals of its pairs, as the CTEs `counted_<kind>` and `kept_<kind>`.
 */
function ownerTotals(
  kind: 'user' | 'item',
  key: string,
  ledgerColumn: string,
  totals: string,
  purgedColumn: string,
): string {
  return `counted_${kind} AS (
         SELECT ${key} AS key, sum(kept) AS a, sum(purged) AS b, sum(kept + purged) AS c
         FROM (SELECT ${key}, ${ledgerColumn} AS kept, 0 AS purged FROM saga_ledger_totals
               UNION ALL
               SELECT ${key}, 0, ${ledgerColumn} FROM saga_purged_totals) parts
         GROUP BY ${key}
       ), kept_${kind} AS (
         SELECT ${key} AS key, ${ledgerColumn} AS a, ${purgedColumn} AS b,
                ${ledgerColumn} + ${purgedColumn} AS c
         FROM ${totals}
       )`;
}

/** The recount (`counted_<kind>`) beside the rollup (`kept_<kind>`), key by key, with labels. */
function compared(kind: RollupFinding['kind'], bIs: string, cIs: string): string {
  return `SELECT '${kind}' AS kind, COALESCE(c.key, k.key) AS key,
                COALESCE(c.a, 0) AS ea, COALESCE(c.b, 0) AS eb, COALESCE(c.c, 0) AS ec,
                COALESCE(k.a, 0) AS aa, COALESCE(k.b, 0) AS ab, COALESCE(k.c, 0) AS ac,
                '${bIs}' AS b_is, '${cIs}' AS c_is
         FROM counted_${kind} c FULL JOIN kept_${kind} k ON k.key = c.key`;
}

/** Open sagas, read through their partial index (few, whatever the sagas kept). */
const OPEN_SAGAS = `SELECT user_id, item_id, price, quantity FROM saga_states
  WHERE status IN ('pending', 'in_progress', 'compensating')`;

/** Slack a figure may have while sagas are in flight: lower by at most what they hold. */
/** Any fixed 64-bit key shared by the instances: one incremental slice at a time. */
const SLICE_LOCK_KEY = 7_243_901_118_302;

const OUT_OF_LINE = (actual: string, inFlight: string) =>
  `${actual} > expected OR ${actual} < expected - ${inFlight}`;

/**
 * The reconciliation's SQL. Each query aggregates in the database and returns only the first
 * `limit` offending rows, with the total count of offenders alongside. Balances, stock and
 * inventory are checked against the ledger rollups (the user, item and pair totals, kept and
 * purged, and the deltas not folded yet), and a full run recounts those rollups from the sagas,
 * so together they check the figures against every saga kept; an incremental run checks only what the ledger changes
 * since its checkpoint touched, slice by slice.
 */
@Injectable()
export class IntegrityRepository {
  constructor(private readonly tx: JobsTransactionHost) {}

  /**
   * Everything, in one read-only REPEATABLE READ transaction (one snapshot, one now()). No
   * statement timeout: it reads whole tables, on its own connection, off-peak or on demand.
   */
  findAll(options: {
    sagaTimeoutMs: number;
    outboxMaxPendingMs: number;
    limit: number;
  }): Promise<IntegrityFindings> {
    const { limit } = options;
    const all: Scope = { kind: 'all' };
    return this.snapshot(async () => {
      // Its sums read whole tables: sequential scans, which the service's connections avoid.
      await this.tx.query('SET LOCAL enable_seqscan = on');
      const covered = await this.covered();
      return {
        balances: await this.balances(all, limit),
        stock: await this.stock(all, limit),
        logs: await this.logs(limit),
        inventory: await this.inventory(all, limit),
        ...(await this.global(options)),
        rollups: await this.rollups(limit),
        covered,
      };
    });
  }

  /**
   * One slice of an incremental run, in one snapshot: the users, items and pairs of up to
   * `slice` ledger changes after `from.ledgerSeq` (and of the changes not folded yet); with
   * `first`, also the sagas finished since `from.finishedAfter` and the checks that read only
   * open, failed or pending rows. `busy` when another instance is checking a slice now.
   */
  findChanged(options: {
    from: IntegrityCheckpoint;
    slice: number;
    first: boolean;
    sagaTimeoutMs: number;
    outboxMaxPendingMs: number;
    limit: number;
  }): Promise<IntegritySlice | 'busy'> {
    const { limit, from } = options;
    return this.snapshot(async () => {
      // Another instance checking a slice now is checking the same changes.
      const lock = await this.tx.one<{ locked: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS locked',
        [SLICE_LOCK_KEY],
      );
      if (lock?.locked !== true) return 'busy';
      // The slice: a range of the change log, numbered from the checkpoint on.
      const range = await this.tx.one<{ changes: number; up_to: string | null; unfolded: number }>(
        `SELECT count(*)::int AS changes, max(seq)::text AS up_to,
                (SELECT count(*) FROM saga_ledger_deltas)::int AS unfolded
         FROM (SELECT c.seq FROM saga_ledger_changes c WHERE c.seq > $1::bigint
               ORDER BY c.seq LIMIT $2) slice`,
        [from.ledgerSeq, options.slice],
      );
      if (range === undefined) throw new Error('The slice query returned no row');
      const more = range.changes === options.slice;
      const scope: Scope = {
        kind: 'changed',
        after: from.ledgerSeq,
        upTo: range.up_to ?? from.ledgerSeq,
        last: !more,
      };
      const now = await this.covered();
      const finished = options.first
        ? await this.finishedLogs(from.finishedAfter, limit)
        : { found: [], sagas: 0 };
      const findings: IntegrityFindings = {
        balances: await this.balances(scope, limit),
        stock: await this.stock(scope, limit),
        logs: finished.found,
        inventory: await this.inventory(scope, limit),
        ...(options.first
          ? await this.global(options)
          : { stuckSagas: [], failedCompensations: [], outbox: [], negatives: [] }),
        rollups: [],
        covered: { ledgerSeq: scope.upTo, finishedAfter: now.finishedAfter },
      };
      return {
        findings,
        // The changes of the slice, and with the last one the deltas not folded yet.
        pairs: range.changes + (more ? 0 : range.unfolded),
        sagas: finished.sagas,
        more,
      };
    });
  }

  /** Where the last run got to (nothing checked yet: from the start). */
  async checkpoint(): Promise<IntegrityCheckpoint> {
    const row = await this.tx.one<{ ledger_seq: string; finished_after: Date | null }>(
      'SELECT ledger_seq::text, finished_after FROM integrity_checkpoint WHERE id = 1',
    );
    return { ledgerSeq: row?.ledger_seq ?? '0', finishedAfter: row?.finished_after ?? new Date(0) };
  }

  /** Moves the checkpoint forward (never back, whichever instance ran last). */
  async advance(to: IntegrityCheckpoint): Promise<void> {
    await this.tx.query(
      `INSERT INTO integrity_checkpoint (id, ledger_seq, finished_after, updated_at)
       VALUES (1, $1, $2, now())
       ON CONFLICT (id) DO UPDATE SET
         ledger_seq = GREATEST(integrity_checkpoint.ledger_seq, excluded.ledger_seq),
         finished_after = GREATEST(integrity_checkpoint.finished_after, excluded.finished_after),
         updated_at = now()`,
      [to.ledgerSeq, to.finishedAfter],
    );
  }

  /** Ledger changes past a checkpoint, not checked yet (the run's backlog). */
  pendingChanges(after: string): Promise<number> {
    return this.count(
      `SELECT (SELECT count(*) FROM saga_ledger_changes WHERE seq > $1::bigint)
            + (SELECT count(*) FROM saga_ledger_deltas) AS n`,
      [after],
    );
  }

  /**
   * Forgets the changes up to `upTo` (those a run before the last one checked): the last run's
   * stay, so that setting the checkpoint back by a run checks them again. No statement timeout:
   * after a long pause of the runs there may be millions.
   */
  forgetChanges(upTo: string): Promise<void> {
    return this.tx.run(async () => {
      await this.tx.query('SET LOCAL statement_timeout = 0');
      await this.tx.query('DELETE FROM saga_ledger_changes WHERE seq <= $1::bigint', [upTo]);
    });
  }

  private snapshot<T>(work: () => Promise<T>): Promise<T> {
    return this.tx.run(async () => {
      await this.tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await this.tx.query('SET LOCAL statement_timeout = 0');
      // Each statement runs once per slice on ranges of any size: planned for the one at hand.
      await this.tx.query('SET LOCAL plan_cache_mode = force_custom_plan');
      // A slice sorts its pairs and finished sagas (tens of thousands): in memory, not on disk.
      await this.tx.query("SET LOCAL work_mem = '32MB'");
      return work();
    });
  }

  /**
   * What this snapshot covers: the ledger changes folded so far, and the sagas finished until a
   * minute ago (a saga's finish time is its transaction's start, which may commit later).
   */
  private async covered(): Promise<IntegrityCheckpoint> {
    const row = await this.tx.one<{ ledger_seq: string; finished_after: Date }>(
      `SELECT GREATEST((SELECT max(seq) FROM saga_ledger_changes),
                       (SELECT ledger_seq FROM integrity_checkpoint WHERE id = 1), 0)::text AS ledger_seq,
              now() - interval '1 minute' AS finished_after`,
    );
    if (row === undefined) throw new Error('The snapshot query returned no row');
    return { ledgerSeq: row.ledger_seq, finishedAfter: row.finished_after };
  }

  private async count(sql: string, params: unknown[]): Promise<number> {
    const [row] = await this.tx.query<{ n: string }>(sql, params);
    return Number(row.n);
  }

  /** The checks that read only open, failed or pending rows (through their partial indexes). */
  private async global(options: {
    sagaTimeoutMs: number;
    outboxMaxPendingMs: number;
    limit: number;
  }): Promise<
    Pick<IntegrityFindings, 'stuckSagas' | 'failedCompensations' | 'outbox' | 'negatives'>
  > {
    return {
      stuckSagas: await this.stuckSagas(options.sagaTimeoutMs, options.limit),
      failedCompensations: await this.failedCompensations(options.limit),
      outbox: await this.staleOutbox(options.outboxMaxPendingMs, options.limit),
      negatives: await this.negatives(options.limit),
    };
  }

  /**
   * credited_total = balance + completed totals (of the sagas kept, plus the purged totals of
   * those retention removed). A saga still in flight may hold a debit not yet
   * settled either way, so the balance may be lower by at most the in-flight totals. A user's
   * completed totals, kept and purged, are one row of saga_user_totals (plus the deltas not
   * folded yet), however many items the user bought.
   */
  private balances(scope: Scope, limit: number): Promise<BalanceFinding[]> {
    const { with: scoped, where, params } = inScope(scope, 'user');
    return this.tx.query<BalanceFinding>(
      `WITH ${scoped} open AS MATERIALIZED (${OPEN_SAGAS}),
       spent AS (
         SELECT user_id, sum(total) AS completed_total FROM (
           SELECT user_id, completed_total + purged_total AS total FROM saga_user_totals
           WHERE ${where('user_id')}
           UNION ALL
           SELECT user_id, completed_total FROM saga_ledger_deltas WHERE ${where('user_id')}
         ) parts GROUP BY user_id),
       flight AS (SELECT user_id, sum(price) AS in_flight_total FROM open GROUP BY user_id),
       checked AS (
         SELECT u.user_id, u.balance, u.credited_total,
                COALESCE(s.completed_total, 0) AS completed_total,
                COALESCE(f.in_flight_total, 0) AS in_flight_total,
                u.credited_total - COALESCE(s.completed_total, 0) AS expected
         FROM users u LEFT JOIN spent s ON s.user_id = u.user_id
         LEFT JOIN flight f ON f.user_id = u.user_id
         WHERE ${where('u.user_id')}
       )
       SELECT user_id, balance::text, credited_total::text,
              completed_total::numeric(14,2)::text AS completed_total,
              in_flight_total::numeric(14,2)::text AS in_flight_total,
              expected::numeric(14,2)::text AS expected, count(*) OVER ()::text AS total
       FROM checked
       WHERE ${OUT_OF_LINE('balance', 'in_flight_total')}
       ORDER BY user_id LIMIT $${params.length + 1}`,
      [...params, limit],
    );
  }

  /**
   * stocked_total = stock + completed quantities, give or take the in-flight reservations. An
   * item's completed quantities, kept and purged, are one row of saga_item_totals (plus the
   * deltas not folded yet), however many users bought it.
   */
  private stock(scope: Scope, limit: number): Promise<StockFinding[]> {
    const { with: scoped, where, params } = inScope(scope, 'item');
    return this.tx.query<StockFinding>(
      `WITH ${scoped} open AS MATERIALIZED (${OPEN_SAGAS}),
       sold AS (
         SELECT item_id, sum(quantity)::int AS completed_quantity FROM (
           SELECT item_id, completed_quantity + purged_quantity AS quantity FROM saga_item_totals
           WHERE ${where('item_id')}
           UNION ALL
           SELECT item_id, completed_quantity FROM saga_ledger_deltas WHERE ${where('item_id')}
         ) parts GROUP BY item_id),
       flight AS (SELECT item_id, sum(quantity)::int AS in_flight_quantity FROM open GROUP BY item_id),
       checked AS (
         SELECT i.item_id, i.stock, i.stocked_total,
                COALESCE(s.completed_quantity, 0) AS completed_quantity,
                COALESCE(f.in_flight_quantity, 0) AS in_flight_quantity,
                i.stocked_total - COALESCE(s.completed_quantity, 0) AS expected
         FROM items i LEFT JOIN sold s ON s.item_id = i.item_id
         LEFT JOIN flight f ON f.item_id = i.item_id
         WHERE ${where('i.item_id')}
       )
       SELECT item_id, stock, stocked_total, completed_quantity, in_flight_quantity, expected,
              count(*) OVER ()::text AS total
       FROM checked
       WHERE ${OUT_OF_LINE('stock', 'in_flight_quantity')}
       ORDER BY item_id LIMIT $${params.length + 1}`,
      [...params, limit],
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

  /**
   * The logs check of the sagas finished since `after`, found through the indexes on their
   * finish times, and how many there were (one read of them for both).
   */
  private async finishedLogs(
    after: Date | null,
    limit: number,
  ): Promise<{ found: LogFinding[]; sagas: number }> {
    const rows = await this.tx.query<{ sagas: number } & ({ transaction_id: null } | LogFinding)>(
      `WITH finished AS MATERIALIZED (
         SELECT s.transaction_id, s.user_id, s.status, count(l.log_id)::int AS completed_logs
         FROM saga_states s
         LEFT JOIN transaction_logs l
           ON l.transaction_id = s.transaction_id AND l.status = 'completed'
         WHERE s.status IN ('completed', 'compensated', 'failed')
           AND (s.completed_at >= $1::timestamptz OR s.failed_at >= $1::timestamptz)
         GROUP BY s.transaction_id, s.user_id, s.status)
       SELECT n.sagas, f.transaction_id, f.user_id, f.status, f.completed_logs, f.total
       FROM (SELECT count(*)::int AS sagas FROM finished) n
       LEFT JOIN LATERAL (
         SELECT *, count(*) OVER ()::text AS total FROM finished
         WHERE completed_logs <> CASE WHEN status = 'completed' THEN 1 ELSE 0 END
         ORDER BY transaction_id LIMIT $2) f ON TRUE`,
      [after, limit],
    );
    return {
      found: rows.filter((r): r is { sagas: number } & LogFinding => r.transaction_id !== null),
      sagas: rows[0]?.sagas ?? 0,
    };
  }

  /** What a user owns of an item = what its completed sagas granted (plus grants in flight). */
  private inventory(scope: Scope, limit: number): Promise<InventoryFinding[]> {
    return scope.kind === 'all' ? this.allInventory(limit) : this.changedInventory(scope, limit);
  }

  /** Every pair owned or granted: the whole inventory against every ledger, in one join. */
  private allInventory(limit: number): Promise<InventoryFinding[]> {
    return this.tx.query<InventoryFinding>(
      `WITH open AS MATERIALIZED (${OPEN_SAGAS}),
       granted AS (
         SELECT user_id, item_id, sum(completed_quantity)::int AS completed_quantity FROM (
           SELECT user_id, item_id, completed_quantity FROM saga_ledger_totals
           UNION ALL
           SELECT user_id, item_id, completed_quantity FROM saga_ledger_deltas
           UNION ALL
           SELECT user_id, item_id, completed_quantity FROM saga_purged_totals
         ) parts GROUP BY user_id, item_id),
       flight AS (SELECT user_id, item_id, sum(quantity)::int AS in_flight_quantity
                  FROM open GROUP BY user_id, item_id),
       checked AS (
         SELECT COALESCE(ui.user_id, g.user_id) AS user_id, COALESCE(ui.item_id, g.item_id) AS item_id,
                COALESCE(ui.quantity, 0) AS quantity,
                COALESCE(g.completed_quantity, 0) AS completed_quantity
         FROM user_inventory ui
         FULL JOIN granted g ON g.user_id = ui.user_id AND g.item_id = ui.item_id
       )
       SELECT c.user_id, c.item_id, c.quantity, c.completed_quantity,
              COALESCE(f.in_flight_quantity, 0) AS in_flight_quantity,
              count(*) OVER ()::text AS total
       FROM checked c LEFT JOIN flight f ON f.user_id = c.user_id AND f.item_id = c.item_id
       WHERE c.quantity < c.completed_quantity
          OR c.quantity > c.completed_quantity + COALESCE(f.in_flight_quantity, 0)
       ORDER BY c.user_id, c.item_id LIMIT $1`,
      [limit],
    );
  }

  /**
   * A slice's pairs, each looked up once in user_inventory, in key order (the slice comes
   * sorted): a walk along its primary key. What completed sagas granted is the folded quantity
   * the change log holds (or the totals', for a slice that is not the last), plus the purged
   * quantity and the deltas not folded yet.
   */
  private changedInventory(
    scope: Extract<Scope, { kind: 'changed' }>,
    limit: number,
  ): Promise<InventoryFinding[]> {
    return this.tx.query<InventoryFinding>(
      `WITH ${SLICE_PAIRS},
       open AS MATERIALIZED (${OPEN_SAGAS}),
       flight AS (SELECT user_id, item_id, sum(quantity)::int AS in_flight_quantity
                  FROM open GROUP BY user_id, item_id),
       unfolded AS MATERIALIZED (
         SELECT user_id, item_id, sum(completed_quantity) AS completed_quantity
         FROM saga_ledger_deltas GROUP BY user_id, item_id),
       looked_up AS MATERIALIZED (
         SELECT p.user_id, p.item_id,
                COALESCE((SELECT ui.quantity FROM user_inventory ui
                          WHERE ui.user_id = p.user_id AND ui.item_id = p.item_id), 0) AS quantity,
                COALESCE(p.kept, (SELECT t.completed_quantity FROM saga_ledger_totals t
                                  WHERE t.user_id = p.user_id AND t.item_id = p.item_id), 0)
                + COALESCE((SELECT s.completed_quantity FROM saga_purged_totals s
                            WHERE s.user_id = p.user_id AND s.item_id = p.item_id), 0) AS granted
         FROM pairs p
       ), checked AS (
         SELECT l.user_id, l.item_id, l.quantity,
                (l.granted + COALESCE(u.completed_quantity, 0))::int AS completed_quantity,
                COALESCE(f.in_flight_quantity, 0) AS in_flight_quantity
         FROM looked_up l
         LEFT JOIN unfolded u ON u.user_id = l.user_id AND u.item_id = l.item_id
         LEFT JOIN flight f ON f.user_id = l.user_id AND f.item_id = l.item_id
       )
       SELECT user_id, item_id, quantity, completed_quantity, in_flight_quantity,
              count(*) OVER ()::text AS total
       FROM checked
       WHERE quantity < completed_quantity OR quantity > completed_quantity + in_flight_quantity
       ORDER BY user_id, item_id LIMIT $4`,
      [...sliceParams(scope), limit],
    );
  }

  /**
   * The rollups against a recount of every saga: the ledger per user and item (what completed
   * sagas spent, granted, and how many), the user and item totals against the ledger and purged
   * totals (the deltas not folded yet are in neither), and the sagas per pattern and status.
   */
  private rollups(limit: number): Promise<RollupFinding[]> {
    return this.tx.query<RollupFinding>(
      `WITH counted_ledger AS (
         SELECT user_id || '/' || item_id AS key, count(*) AS a, sum(price) AS b, sum(quantity) AS c
         FROM saga_states WHERE status = 'completed' GROUP BY user_id, item_id
       ), kept_ledger AS (
         SELECT user_id || '/' || item_id AS key, sum(completed_sagas) AS a,
                sum(completed_total) AS b, sum(completed_quantity) AS c
         FROM (SELECT user_id, item_id, completed_sagas, completed_total, completed_quantity FROM saga_ledger_totals
               UNION ALL
               SELECT user_id, item_id, completed_sagas, completed_total, completed_quantity FROM saga_ledger_deltas) parts
         GROUP BY user_id, item_id
       ), ${ownerTotals('user', 'user_id', 'completed_total', 'saga_user_totals', 'purged_total')},
       ${ownerTotals('item', 'item_id', 'completed_quantity', 'saga_item_totals', 'purged_quantity')},
       counted_status AS (
         SELECT pattern || '/' || status AS key, count(*) AS a,
                count(COALESCE(completed_at, failed_at)) AS b,
                COALESCE(sum(extract(epoch FROM COALESCE(completed_at, failed_at) - created_at) * 1000), 0) AS c
         FROM saga_states GROUP BY pattern, status
       ), kept_status AS (
         SELECT pattern || '/' || status AS key, sum(sagas) AS a, sum(timed) AS b, sum(duration_ms) AS c
         FROM (SELECT pattern, status, sagas, timed, duration_ms FROM saga_status_totals
               UNION ALL
               SELECT pattern, status, sagas, timed, duration_ms FROM saga_count_deltas) parts
         GROUP BY pattern, status
       ), compared AS (
         ${[
           compared('ledger', ' sagas, spent ', ', granted '),
           compared('user', ' spent, purged ', ', in all '),
           compared('item', ' granted, purged ', ', in all '),
           compared('status', ' sagas, finished ', ' in ms '),
         ].join(' UNION ALL ')}
       ), found AS (
         SELECT kind, key, ea || b_is || eb || c_is || ec AS expected,
                aa || b_is || ab || c_is || ac AS actual
         FROM compared WHERE ea <> aa OR eb <> ab OR ec <> ac
       )
       SELECT kind, key, expected, actual, count(*) OVER ()::text AS total
       FROM found ORDER BY kind, key LIMIT $1`,
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
