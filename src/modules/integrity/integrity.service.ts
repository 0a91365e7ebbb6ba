import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { errorMessage } from '../../common/errors/error-message';
import { moneyToJson } from '../../common/money';
import type { AppConfig, IntegrityConfig } from '../../config/configuration';
import {
  IntegrityCheckpoint,
  IntegrityFindings,
  IntegrityRepository,
} from './integrity.repository';
import { IntegrityMetrics } from './integrity.metrics';

export const INTEGRITY_CHECKS = [
  'user_balance',
  'item_stock',
  'completed_log',
  'inventory',
  'stuck_saga',
  'compensation_failed',
  'outbox_backlog',
  'negative_amount',
  'rollups',
] as const;
export type IntegrityCheck = (typeof INTEGRITY_CHECKS)[number];

export interface IntegrityViolation {
  userId?: string;
  itemId?: string;
  transactionId?: string;
  outboxEventId?: string;
  expected: number | string;
  actual: number | string;
  message: string;
}

export interface IntegrityCheckResult {
  check: IntegrityCheck;
  description: string;
  /** How many violations were found (all of them, not only those listed). */
  violations: number;
  /** The first ones, in a stable order. */
  listed: IntegrityViolation[];
}

/**
 * `full`: every user, item and saga, and the rollups recounted (reads whole tables: on demand or
 * off-peak); `incremental`: what changed since the last run, in bounded slices.
 */
export type IntegrityMode = 'full' | 'incremental';
export const INTEGRITY_MODES: readonly IntegrityMode[] = ['full', 'incremental'];

/** How far a run got: from the checkpoint it found to the one it left. */
export interface IntegrityProgress {
  from: IntegrityCheckpoint;
  to: IntegrityCheckpoint;
  /** Snapshots taken (an incremental run takes one per slice of ledger changes). */
  slices: number;
  /** (user, item) ledger changes checked, and sagas finished since the last run checked. */
  changesChecked: number;
  sagasChecked: number;
  /** Changes past the new checkpoint, for the next run (a run stops after MAX_SLICES). */
  changesLeft: number;
  /** Stopped because another instance was checking a slice (it checks the same changes). */
  busy: boolean;
}

export interface IntegrityReport {
  mode: IntegrityMode;
  clean: boolean;
  checkedAt: Date;
  durationMs: number;
  violations: number;
  checks: IntegrityCheckResult[];
  progress: IntegrityProgress;
}

/** A run that checked nothing finds nothing. */
export const emptyFindings = (covered: IntegrityCheckpoint): IntegrityFindings => ({
  balances: [],
  stock: [],
  logs: [],
  inventory: [],
  stuckSagas: [],
  failedCompensations: [],
  outbox: [],
  negatives: [],
  rollups: [],
  covered,
});

/** The most slices one incremental run takes; what is left waits for the next run. */
const MAX_SLICES = 100;

const DESCRIPTIONS: Record<IntegrityCheck, string> = {
  user_balance:
    'credited total (starting balance + top-ups) = balance + totals of completed sagas (kept or purged)',
  item_stock:
    'stocked total (starting stock + restocks) = stock + quantities of completed sagas (kept or purged)',
  completed_log:
    'one completed transaction log per completed saga, none for compensated or failed sagas',
  inventory:
    "a user's inventory of an item = quantities of its completed sagas for that item (kept or purged)",
  stuck_saga: 'no saga pending, in progress or compensating past SAGA_TIMEOUT_MS',
  compensation_failed: 'no saga left failed by a compensation that gave up (re-drive it)',
  outbox_backlog: 'no outbox event pending past OUTBOX_MAX_PENDING_MS',
  negative_amount: 'no negative balance or stock',
  rollups: 'the statistics and ledger rollups = a recount of every saga (full reconciliation only)',
};

const money = (value: string): number => moneyToJson(value) ?? 0;

/** Findings become violations with the ids involved and expected against actual figures. */
function toViolations(
  findings: IntegrityFindings,
  limits: { sagaTimeoutMs: number; outboxMaxPendingMs: number },
): Record<IntegrityCheck, { total: number; listed: IntegrityViolation[] }> {
  const of = <T extends { total: string }>(rows: T[], map: (row: T) => IntegrityViolation) => ({
    total: Number(rows[0]?.total ?? 0),
    listed: rows.map(map),
  });
  return {
    user_balance: of(findings.balances, (r) => ({
      userId: r.user_id,
      expected: money(r.expected),
      actual: money(r.balance),
      message:
        `User ${r.user_id}: balance ${r.balance}, expected ${r.expected} (credited ` +
        `${r.credited_total} - completed ${r.completed_total}; ${r.in_flight_total} in flight)`,
    })),
    item_stock: of(findings.stock, (r) => ({
      itemId: r.item_id,
      expected: r.expected,
      actual: r.stock,
      message:
        `Item ${r.item_id}: stock ${r.stock}, expected ${r.expected} (stocked ` +
        `${r.stocked_total} - completed ${r.completed_quantity}; ${r.in_flight_quantity} in flight)`,
    })),
    completed_log: of(findings.logs, (r) => {
      const expected = r.status === 'completed' ? 1 : 0;
      return {
        transactionId: r.transaction_id,
        userId: r.user_id,
        expected,
        actual: r.completed_logs,
        message: `Saga ${r.transaction_id} (${r.status}) has ${r.completed_logs} completed log(s), expected ${expected}`,
      };
    }),
    inventory: of(findings.inventory, (r) => ({
      userId: r.user_id,
      itemId: r.item_id,
      expected: r.completed_quantity,
      actual: r.quantity,
      message:
        `User ${r.user_id} owns ${r.quantity} of ${r.item_id}, completed sagas granted ` +
        `${r.completed_quantity} (${r.in_flight_quantity} in flight)`,
    })),
    stuck_saga: of(findings.stuckSagas, (r) => ({
      transactionId: r.transaction_id,
      userId: r.user_id,
      itemId: r.item_id,
      expected: 'completed, compensated or failed',
      actual: r.status,
      message: `Saga ${r.transaction_id} is ${r.status} after ${r.age_ms} ms (SAGA_TIMEOUT_MS ${limits.sagaTimeoutMs})`,
    })),
    compensation_failed: of(findings.failedCompensations, (r) => ({
      transactionId: r.transaction_id,
      userId: r.user_id,
      itemId: r.item_id,
      expected: 'compensated',
      actual: 'failed (COMPENSATION_FAILED)',
      message: `Saga ${r.transaction_id}: compensation of ${r.error_step ?? 'a step'} gave up; re-drive it with POST /compensate/${r.transaction_id}`,
    })),
    outbox_backlog: of(findings.outbox, (r) => ({
      outboxEventId: r.id,
      transactionId: r.aggregate_id,
      expected: 'dispatched',
      actual: 'pending',
      message: `Outbox event ${r.id} (${r.event_type} of ${r.aggregate_id}) pending for ${r.age_ms} ms after ${r.attempts} attempt(s) (OUTBOX_MAX_PENDING_MS ${limits.outboxMaxPendingMs})`,
    })),
    negative_amount: of(findings.negatives, (r) => ({
      ...(r.kind === 'user' ? { userId: r.id } : { itemId: r.id }),
      expected: '>= 0',
      actual: r.kind === 'user' ? money(r.amount) : Number(r.amount),
      message: `${r.kind === 'user' ? 'User' : 'Item'} ${r.id} is negative: ${r.amount}`,
    })),
    rollups: of(findings.rollups, (r) => ({
      expected: r.expected,
      actual: r.actual,
      message: `Rollup ${r.kind} ${r.key}: ${r.actual}, a recount gives ${r.expected}`,
    })),
  };
}

type FindingLists = Omit<IntegrityFindings, 'covered'>;

/** Two slices' findings as one: counts added up, the first `limit` rows of each check kept. */
export function mergeFindings(
  a: IntegrityFindings,
  b: IntegrityFindings,
  limit: number,
): IntegrityFindings {
  const merge = <T extends { total: string }>(x: T[], y: T[]): T[] => {
    const total = String(Number(x[0]?.total ?? 0) + Number(y[0]?.total ?? 0));
    return [...x, ...y].slice(0, limit).map((row) => ({ ...row, total }));
  };
  const lists: FindingLists = {
    balances: merge(a.balances, b.balances),
    stock: merge(a.stock, b.stock),
    logs: merge(a.logs, b.logs),
    inventory: merge(a.inventory, b.inventory),
    stuckSagas: merge(a.stuckSagas, b.stuckSagas),
    failedCompensations: merge(a.failedCompensations, b.failedCompensations),
    outbox: merge(a.outbox, b.outbox),
    negatives: merge(a.negatives, b.negatives),
    rollups: merge(a.rollups, b.rollups),
  };
  return { ...lists, covered: b.covered };
}

/** The ids a log line names for one violation. */
function idsOf(violation: IntegrityViolation): string {
  return (
    [violation.transactionId, violation.userId, violation.itemId]
      .filter((id) => id !== undefined)
      .join('/') || '?'
  );
}

/**
 * The reconciliation of the contract's guarantee 1 over the data: balances, stock and inventory
 * against completed sagas (through the users' and items' ledgers), one completed log per
 * completed saga, no saga stuck or left half-compensated, no outbox event left undelivered.
 * Used by the scheduled job, the admin route and the `verify` command alike.
 */
/** What the service reads: findings and checkpoints (a unit test gives its own). */
export type IntegrityFindingsSource = Pick<
  IntegrityRepository,
  'findAll' | 'findChanged' | 'checkpoint' | 'advance' | 'pendingChanges' | 'forgetChanges'
>;

@Injectable()
export class IntegrityService {
  private readonly logger = new Logger(IntegrityService.name);
  private readonly metrics = new IntegrityMetrics();
  private readonly settings: IntegrityConfig;
  private readonly sagaTimeoutMs: number;

  constructor(
    @Inject(IntegrityRepository) private readonly repository: IntegrityFindingsSource,
    config: ConfigService<AppConfig, true>,
  ) {
    this.settings = config.get('integrity', { infer: true });
    this.sagaTimeoutMs = config.get('saga', { infer: true }).timeoutMs;
  }

  async verify(mode: IntegrityMode = 'full'): Promise<IntegrityReport> {
    const started = Date.now();
    const limits = {
      sagaTimeoutMs: this.sagaTimeoutMs,
      outboxMaxPendingMs: this.settings.outboxMaxPendingMs,
      limit: this.settings.maxListed,
    };
    const from = await this.repository.checkpoint();
    const { findings, progress } =
      mode === 'full' ? await this.full(limits, from) : await this.incremental(limits, from);
    // The changes runs before this one checked go; this run's stay, to be checked again by
    // setting the checkpoint back (a run that checked none leaves the last one's). Failing to
    // delete them fails nothing: the next run deletes them with its own.
    if (BigInt(progress.to.ledgerSeq) > BigInt(from.ledgerSeq)) {
      await this.repository.forgetChanges(from.ledgerSeq).catch((error: unknown) => {
        this.logger.warn(`Deleting the checked ledger changes failed: ${errorMessage(error)}`);
      });
    }
    const results = toViolations(findings, limits);
    const checks = INTEGRITY_CHECKS.map((check) => ({
      check,
      description: DESCRIPTIONS[check],
      violations: results[check].total,
      listed: results[check].listed,
    }));
    const violations = checks.reduce((sum, c) => sum + c.violations, 0);
    const checkedAt = new Date();
    const durationMs = checkedAt.getTime() - started;
    const report: IntegrityReport = {
      mode,
      clean: violations === 0,
      checkedAt,
      durationMs,
      violations,
      checks,
      progress,
    };
    if (progress.busy && progress.slices === 0) {
      // Nothing checked: the figures of the run under way elsewhere stand.
      this.logger.log('Integrity check skipped: another instance is checking the same changes');
      return report;
    }
    this.metrics.record(
      Object.fromEntries(
        // An incremental run does not recount the rollups: it leaves the last full run's figure.
        checks
          .filter((c) => mode === 'full' || c.check !== 'rollups')
          .map((c) => [c.check, c.violations]),
      ),
      checkedAt,
      durationMs,
      progress.changesLeft,
    );
    this.log(report);
    return report;
  }

  private async full(
    limits: { sagaTimeoutMs: number; outboxMaxPendingMs: number; limit: number },
    from: IntegrityCheckpoint,
  ): Promise<{ findings: IntegrityFindings; progress: IntegrityProgress }> {
    const findings = await this.repository.findAll(limits);
    // Everything the snapshot saw is checked: the next incremental run starts after it.
    await this.repository.advance(findings.covered);
    return {
      findings,
      progress: {
        from,
        to: findings.covered,
        slices: 1,
        changesChecked: 0,
        sagasChecked: 0,
        changesLeft: await this.repository.pendingChanges(findings.covered.ledgerSeq),
        busy: false,
      },
    };
  }

  /**
   * Slices of ledger changes after the checkpoint, each in its own snapshot, the checkpoint moved
   * past each slice as it is checked (a run cut short resumes there).
   */
  private async incremental(
    limits: { sagaTimeoutMs: number; outboxMaxPendingMs: number; limit: number },
    from: IntegrityCheckpoint,
  ): Promise<{ findings: IntegrityFindings; progress: IntegrityProgress }> {
    let at = from;
    let findings: IntegrityFindings | undefined;
    let slices = 0;
    let changesChecked = 0;
    let sagasChecked = 0;
    let more = true;
    let busy = false;
    while (more && slices < MAX_SLICES) {
      const slice = await this.repository.findChanged({
        ...limits,
        from: at,
        slice: this.settings.sliceSize,
        first: slices === 0,
      });
      if (slice === 'busy') {
        busy = true;
        break;
      }
      findings =
        findings === undefined
          ? slice.findings
          : mergeFindings(findings, slice.findings, limits.limit);
      at = {
        ledgerSeq: slice.findings.covered.ledgerSeq,
        // The sagas finished since the last run are checked by the first slice.
        finishedAfter: slices === 0 ? slice.findings.covered.finishedAfter : at.finishedAfter,
      };
      await this.repository.advance(at);
      slices += 1;
      changesChecked += slice.pairs;
      sagasChecked += slice.sagas;
      more = slice.more;
    }
    return {
      findings: findings ?? emptyFindings(at),
      progress: {
        from,
        to: at,
        slices,
        changesChecked,
        sagasChecked,
        changesLeft: more ? await this.repository.pendingChanges(at.ledgerSeq) : 0,
        busy,
      },
    };
  }

  /** One line per run: the count, and the first few ids of each failing check. */
  private log(report: IntegrityReport): void {
    const scope =
      report.mode === 'full'
        ? 'full'
        : `incremental, ${report.progress.changesChecked} change(s) and ${report.progress.sagasChecked} finished saga(s)`;
    if (report.clean) {
      this.logger.log(`Integrity check clean (${scope}, ${report.durationMs} ms)`);
      return;
    }
    const failing = report.checks
      .filter((c) => c.violations > 0)
      .map((c) => `${c.check}=${c.violations} [${c.listed.slice(0, 3).map(idsOf).join(', ')}]`);
    this.logger.warn(
      `Integrity check found ${report.violations} violation(s) (${scope}, ${report.durationMs} ms): ${failing.join('; ')}`,
    );
  }
}
