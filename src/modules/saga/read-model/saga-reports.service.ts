import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { isIdentifier } from '../../../common/identifiers';
import { moneyToJson } from '../../../common/money';
import { SAGA_PATTERNS, type AppConfig, type SagaPattern } from '../../../config/configuration';
import type { SagaError, SagaStatus } from '../core/saga';
import { SagaVersions, type OpenSagasOfVersion } from '../core/saga-versions';
import {
  SagaListCursor,
  SagaListFilter,
  SagaReportsRepository,
  SagaSummaryRow,
} from './saga-reports.repository';

export type { SagaAttentionState } from './saga-reports.repository';
import { SagaRollupsRepository, type StatusTotalsRow } from './saga-rollups.repository';
import { statisticsOf, type PatternStatistics, type SagaStatistics } from './saga-statistics';

/** Window of the duration percentiles. */
export const LATENCY_WINDOW_MS = 15 * 60_000;
/** Window of the throughput figure. */
export const THROUGHPUT_WINDOW_MS = 60_000;
/**
 * A listing's total is counted up to this many sagas (a few milliseconds through an index);
 * beyond, the planner's estimate answers instead of a count that would read every match.
 */
export const EXACT_TOTAL_UP_TO = 1_000;

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
  /** Open sagas per definition version, and how many run a version this instance lacks. */
  definitions: {
    registered: string[];
    open: OpenSagasOfVersion[];
    unregisteredOpen: number;
  };
  /** The instant the counts hold for (exact then); the windows end there too. */
  asOf: Date;
  generatedAt: Date;
}

export interface SagaSummary {
  transactionId: string;
  status: SagaStatus;
  pattern: SagaPattern;
  /** The saga definition and version the saga runs. */
  definition: { name: string; version: number };
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

function rounded(value: number): number {
  return Math.round(value * 10) / 10;
}

function countsOf(rows: readonly StatusTotalsRow[]): { status: SagaStatus; count: string }[] {
  return rows.map((row) => ({ status: row.status, count: row.sagas }));
}

export function toSagaSummary(row: SagaSummaryRow): SagaSummary {
  return {
    transactionId: row.transaction_id,
    status: row.status,
    pattern: row.pattern,
    definition: { name: row.definition_name, version: row.definition_version },
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

/** Upper bound in ms of a duration bucket of the rollups (SagaRollups migration). */
function bucketUpperMs(bucket: number): number {
  return 2 ** (bucket / 4);
}

/**
 * The q-quantile of durations counted per bucket, interpolated inside its bucket (buckets are
 * 19% wide, so is the figure at worst); null without samples.
 */
export function quantileOfBuckets(
  buckets: readonly { bucket: number; count: number }[],
  q: number,
): number | null {
  const sorted = [...buckets].filter((b) => b.count > 0).sort((a, b) => a.bucket - b.bucket);
  const total = sorted.reduce((sum, b) => sum + b.count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (const { bucket, count } of sorted) {
    if (below + count >= rank) {
      const lower = bucket === 0 ? 0 : bucketUpperMs(bucket - 1);
      const upper = bucketUpperMs(bucket);
      return rounded(lower + (upper - lower) * ((rank - below) / count));
    }
    below += count;
  }
  return rounded(bucketUpperMs(sorted[sorted.length - 1].bucket));
}

/**
 * What operators read about sagas as a whole: counts, throughput, latency (from the rollups,
 * whatever the number of sagas), listings.
 */
@Injectable()
export class SagaReportsService {
  private readonly stuckAfterMs: number;

  constructor(
    private readonly reports: SagaReportsRepository,
    private readonly rollups: SagaRollupsRepository,
    config: ConfigService<AppConfig, true>,
    private readonly versions: SagaVersions,
  ) {
    this.stuckAfterMs = config.get('saga', { infer: true }).timeoutMs;
  }

  async overview(): Promise<SagaOverview> {
    // One after the other: each takes a turn of the reporting pool.
    const totals = await this.rollups.statusTotals();
    const window = await this.rollups.finishWindow(LATENCY_WINDOW_MS, THROUGHPUT_WINDOW_MS);
    const attention = await this.rollups.attention(this.stuckAfterMs);
    // A recount: it also refreshes what /health says about versions this build lacks.
    const open = await this.versions.check();
    const byPattern = Object.fromEntries(
      SAGA_PATTERNS.map((pattern) => [
        pattern,
        statisticsOf(countsOf(totals.rows.filter((row) => row.pattern === pattern))),
      ]),
    ) as Record<SagaPattern, SagaStatistics>;
    const seconds = (from: Date) => Math.round((window.at.getTime() - from.getTime()) / 100) / 10;
    const recent = window.buckets.reduce((sum, b) => sum + Number(b.recent), 0);
    const samples = window.buckets.map((b) => ({ bucket: b.bucket, count: Number(b.finished) }));
    const throughputSeconds = seconds(window.recentFrom);
    const running = Number(attention.stuckRunning);
    const compensationFailed = Number(attention.compensationFailed);
    return {
      statistics: statisticsOf(countsOf(totals.rows)),
      byPattern,
      stuck: {
        running,
        compensationFailed,
        total: running + compensationFailed,
        olderThanMs: this.stuckAfterMs,
      },
      throughput: {
        windowSeconds: throughputSeconds,
        finished: recent,
        perSecond: Math.round((recent / Math.max(throughputSeconds, 0.1)) * 1000) / 1000,
      },
      latency: {
        windowSeconds: seconds(window.windowFrom),
        samples: samples.reduce((sum, b) => sum + b.count, 0),
        p50Ms: quantileOfBuckets(samples, 0.5),
        p95Ms: quantileOfBuckets(samples, 0.95),
      },
      definitions: {
        registered: this.versions.status().registered,
        open,
        unregisteredOpen: open
          .filter((row) => !row.registered)
          .reduce((sum, row) => sum + row.open, 0),
      },
      asOf: totals.at,
      generatedAt: new Date(),
    };
  }

  /** Sagas per status (GET /sagas/stats), as of `asOf`. */
  async statistics(): Promise<{ statistics: SagaStatistics; asOf: Date }> {
    const totals = await this.rollups.statusTotals();
    return { statistics: statisticsOf(countsOf(totals.rows)), asOf: totals.at };
  }

  /** Sagas per status and mean duration, per pattern (the patterns' comparison), as of `asOf`. */
  async patternStatistics(): Promise<{
    patterns: Record<SagaPattern, PatternStatistics>;
    asOf: Date;
  }> {
    const totals = await this.rollups.statusTotals();
    const patterns = {} as Record<SagaPattern, PatternStatistics>;
    for (const pattern of SAGA_PATTERNS) {
      const mine = totals.rows.filter((row) => row.pattern === pattern);
      const timed = mine.reduce((sum, row) => sum + Number(row.timed), 0);
      const durationMs = mine.reduce((sum, row) => sum + Number(row.duration_ms), 0);
      patterns[pattern] = {
        ...statisticsOf(countsOf(mine)),
        averageDurationMs: timed === 0 ? null : Math.round(durationMs / timed),
      };
    }
    return { patterns, asOf: totals.at };
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
