import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { isIdentifier } from '../../../common/identifiers';
import { moneyToJson } from '../../../common/money';
import { SAGA_PATTERNS, type AppConfig, type SagaPattern } from '../../../config/configuration';
import type { SagaError, SagaStatus } from '../core/saga';
import {
  SagaListCursor,
  SagaListFilter,
  SagaReportsRepository,
  SagaSummaryRow,
} from './saga-reports.repository';

export type { SagaAttentionState } from './saga-reports.repository';
import { statisticsOf, type PatternStatistics, type SagaStatistics } from './saga-statistics';

/** Window of the duration percentiles. */
export const LATENCY_WINDOW_MS = 15 * 60_000;
/** Window of the throughput figure. */
export const THROUGHPUT_WINDOW_MS = 60_000;
/**
 * A listing's total is counted up to this many sagas (a few milliseconds through an index);
 * beyond, the planner's estimate answers instead of a count that would read every match.
 */
export const EXACT_TOTAL_UP_TO = 10_000;

export interface SagaOverview {
  statistics: SagaStatistics;
  byPattern: Record<SagaPattern, SagaStatistics>;
  stuck: {
    /** Not finished and older than SAGA_TIMEOUT_MS (recovery should have finished them). */
    running: number;
    /** Failed with COMPENSATION_FAILED: an admin must re-drive them. */
    compensationFailed: number;
    total: number;
    olderThanMs: number;
  };
  throughput: { windowSeconds: number; finished: number; perSecond: number };
  latency: { windowSeconds: number; samples: number; p50Ms: number | null; p95Ms: number | null };
  generatedAt: Date;
}

export interface SagaSummary {
  transactionId: string;
  status: SagaStatus;
  pattern: SagaPattern;
  userId: string;
  itemId: string;
  quantity: number;
  price: number | null;
  currentStep: string | null;
  error: SagaError | null;
  createdAt: Date;
  completedAt: Date | null;
  failedAt: Date | null;
}

export interface SagaPage {
  data: SagaSummary[];
  /** Exact up to EXACT_TOTAL_UP_TO; beyond, an estimate (then `totalEstimated`). */
  total: number;
  totalEstimated: boolean;
  page: number;
  limit: number;
  totalPages: number;
  /** Pass as `cursor` for the next (older) page by keyset; null on the last page. */
  nextCursor: string | null;
}

/** A keyset position as the API shows it: opaque base64url text. */
export function encodeSagaCursor(cursor: SagaListCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.transactionId])).toString(
    'base64url',
  );
}

/** The position in a cursor the API gave out; undefined for anything else. */
export function decodeSagaCursor(text: string): SagaListCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [createdAt, transactionId] = value as unknown[];
  if (typeof createdAt !== 'string' || typeof transactionId !== 'string') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(createdAt)) return undefined;
  if (Number.isNaN(Date.parse(createdAt)) || !isIdentifier(transactionId, 'transaction')) {
    return undefined;
  }
  return { createdAt, transactionId };
}

function rounded(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

export function toSagaSummary(row: SagaSummaryRow): SagaSummary {
  return {
    transactionId: row.transaction_id,
    status: row.status,
    pattern: row.pattern,
    userId: row.user_id,
    itemId: row.item_id,
    quantity: row.quantity,
    price: moneyToJson(row.price),
    currentStep: row.current_step,
    error:
      row.error_code === null
        ? null
        : { step: row.error_step, code: row.error_code, message: row.error_message ?? '' },
    createdAt: row.created_at,
    completedAt: row.completed_at,
    failedAt: row.failed_at,
  };
}

/** What operators read about sagas as a whole: counts, throughput, latency, listings. */
@Injectable()
export class SagaReportsService {
  private readonly stuckAfterMs: number;

  constructor(
    private readonly reports: SagaReportsRepository,
    config: ConfigService<AppConfig, true>,
  ) {
    this.stuckAfterMs = config.get('saga', { infer: true }).timeoutMs;
  }

  async overview(): Promise<SagaOverview> {
    const counts = await this.reports.countsByPattern();
    const recent = await this.reports.recentActivity({
      windowMs: LATENCY_WINDOW_MS,
      throughputMs: THROUGHPUT_WINDOW_MS,
      stuckAfterMs: this.stuckAfterMs,
    });
    const byPattern = Object.fromEntries(
      SAGA_PATTERNS.map((pattern) => [
        pattern,
        statisticsOf(counts.filter((row) => row.pattern === pattern)),
      ]),
    ) as Record<SagaPattern, SagaStatistics>;
    const finished = Number(recent.finishedLastMinute);
    const running = Number(recent.stuckRunning);
    const compensationFailed = Number(recent.compensationFailed);
    return {
      statistics: statisticsOf(counts),
      byPattern,
      stuck: {
        running,
        compensationFailed,
        total: running + compensationFailed,
        olderThanMs: this.stuckAfterMs,
      },
      throughput: {
        windowSeconds: THROUGHPUT_WINDOW_MS / 1000,
        finished,
        perSecond: Math.round((finished / (THROUGHPUT_WINDOW_MS / 1000)) * 1000) / 1000,
      },
      latency: {
        windowSeconds: LATENCY_WINDOW_MS / 1000,
        samples: Number(recent.finishedInWindow),
        p50Ms: rounded(recent.p50Ms),
        p95Ms: rounded(recent.p95Ms),
      },
      generatedAt: new Date(),
    };
  }

  /** Sagas per status (GET /sagas/stats). */
  async statistics(): Promise<SagaStatistics> {
    return statisticsOf(await this.reports.countsByPattern());
  }

  /** Sagas per status and mean duration, per pattern (the patterns' comparison). */
  async patternStatistics(): Promise<Record<SagaPattern, PatternStatistics>> {
    const rows = await this.reports.countsWithDurations();
    const result = {} as Record<SagaPattern, PatternStatistics>;
    for (const pattern of SAGA_PATTERNS) {
      const mine = rows.filter((row) => row.pattern === pattern);
      let weighted = 0;
      let finished = 0;
      for (const row of mine) {
        if (row.avg_ms === null) continue;
        weighted += Number(row.avg_ms) * Number(row.count);
        finished += Number(row.count);
      }
      result[pattern] = {
        ...statisticsOf(mine),
        averageDurationMs: finished === 0 ? null : Math.round(weighted / finished),
      };
    }
    return result;
  }

  /**
   * A page by number, or (given `cursor`) the `limit` sagas after it, with the filter's total:
   * exact up to EXACT_TOTAL_UP_TO, the planner's estimate beyond (`totalEstimated`).
   */
  async list(
    filter: SagaListFilter,
    page: number,
    limit: number,
    cursor?: SagaListCursor,
  ): Promise<SagaPage> {
    const scoped =
      filter.state === 'stuck' ? { ...filter, stuckAfterMs: this.stuckAfterMs } : filter;
    const offset = cursor === undefined ? (page - 1) * limit : 0;
    // One more than asked tells whether an older page exists.
    const rows = await this.reports.page(scoped, limit + 1, offset, cursor);
    const shown = rows.slice(0, limit);
    const more = rows.length > limit;
    // A numbered page that reaches the end of the list tells the total by itself.
    const { total, estimated } =
      cursor === undefined && !more && (shown.length > 0 || offset === 0)
        ? { total: offset + shown.length, estimated: false }
        : await this.total(scoped, offset + shown.length + (more ? 1 : 0));
    const last = shown.at(-1);
    return {
      data: shown.map(toSagaSummary),
      total,
      totalEstimated: estimated,
      page,
      limit,
      totalPages: Math.ceil(total / limit),
      nextCursor:
        more && last !== undefined
          ? encodeSagaCursor({
              createdAt: last.cursor_created_at,
              transactionId: last.transaction_id,
            })
          : null,
    };
  }

  /** Counted up to EXACT_TOTAL_UP_TO; beyond, estimated, never below what was seen. */
  private async total(
    filter: SagaListFilter,
    seen: number,
  ): Promise<{ total: number; estimated: boolean }> {
    const counted = await this.reports.countUpTo(filter, EXACT_TOTAL_UP_TO);
    if (counted <= EXACT_TOTAL_UP_TO) return { total: counted, estimated: false };
    const estimate = await this.reports.estimate(filter);
    return { total: Math.max(estimate, counted, seen), estimated: true };
  }
}
