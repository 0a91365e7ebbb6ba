import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { moneyToJson } from '../../common/money';
import type { AppConfig, IntegrityConfig } from '../../config/configuration';
import { IntegrityFindings, IntegrityRepository } from './integrity.repository';
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

export interface IntegrityReport {
  clean: boolean;
  checkedAt: Date;
  durationMs: number;
  violations: number;
  checks: IntegrityCheckResult[];
}

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
  };
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
/** What the service reads: the findings of one snapshot (a unit test gives its own). */
export type IntegrityFindingsSource = Pick<IntegrityRepository, 'findAll'>;

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

  async verify(): Promise<IntegrityReport> {
    const started = Date.now();
    const limits = {
      sagaTimeoutMs: this.sagaTimeoutMs,
      outboxMaxPendingMs: this.settings.outboxMaxPendingMs,
    };
    const findings = await this.repository.findAll({ ...limits, limit: this.settings.maxListed });
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
    this.metrics.record(
      Object.fromEntries(checks.map((c) => [c.check, c.violations])),
      checkedAt,
      durationMs,
    );
    const report: IntegrityReport = {
      clean: violations === 0,
      checkedAt,
      durationMs,
      violations,
      checks,
    };
    this.log(report);
    return report;
  }

  /** One line per run: the count, and the first few ids of each failing check. */
  private log(report: IntegrityReport): void {
    if (report.clean) {
      this.logger.log(`Integrity check clean (${report.durationMs} ms)`);
      return;
    }
    const failing = report.checks
      .filter((c) => c.violations > 0)
      .map((c) => `${c.check}=${c.violations} [${c.listed.slice(0, 3).map(idsOf).join(', ')}]`);
    this.logger.warn(
      `Integrity check found ${report.violations} violation(s) in ${report.durationMs} ms: ${failing.join('; ')}`,
    );
  }
}
