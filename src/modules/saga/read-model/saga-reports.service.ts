import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { moneyToJson } from '../../../common/money';
import { SAGA_PATTERNS, type AppConfig, type SagaPattern } from '../../../config/configuration';
import { SagaListFilter, SagaReportsRepository, SagaSummaryRow } from './saga-reports.repository';
import type { SagaError } from '../core/saga';
import { statisticsOf, type PatternStatistics, type SagaStatistics } from './saga-statistics';
import { type SagaStatus } from '../core/saga';

/** Window of the duration percentiles. */
export const LATENCY_WINDOW_MS = 15 * 60_000;
/** Window of the throughput figure. */
export const THROUGHPUT_WINDOW_MS = 60_000;

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
  total: number;
  page: number;
  limit: number;
  totalPages: number;
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

  async list(filter: SagaListFilter, page: number, limit: number): Promise<SagaPage> {
    const rows = await this.reports.page(filter, limit, (page - 1) * limit);
    const total = await this.reports.count(filter);
    return {
      data: rows.map(toSagaSummary),
      total,
      page,
      limit,
      totalPages: Math.ceil(total / limit),
    };
  }
}
