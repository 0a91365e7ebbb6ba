import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import {
  DURATION_BUCKETS,
  readSagaTotals,
  type SagaTotals,
  type TerminalStatus,
} from './saga-metrics';

/** How often the counters are sampled, and how far back the overview goes. */
export const OVERVIEW_SAMPLE_MS = 5000;
export const OVERVIEW_WINDOW_MS = 15 * 60_000;

interface Reading extends SagaTotals {
  at: number;
}

/** What happened between two readings of the counters. */
export interface OverviewPoint {
  /** End of the interval. */
  at: Date;
  seconds: number;
  finished: Record<TerminalStatus, number>;
  perSecond: number;
  p50Ms: number | null;
  p95Ms: number | null;
  /** Compensated among the finished (null when none finished). */
  compensationRate: number | null;
}

export interface SagaOverviewSeries {
  scope: 'instance';
  sampleSeconds: number;
  windowSeconds: number;
  /** Oldest first; the last one runs up to now. */
  points: OverviewPoint[];
  /** The whole window at once. */
  window: Omit<OverviewPoint, 'at'>;
  generatedAt: Date;
}

const STATUSES: readonly TerminalStatus[] = ['completed', 'compensated', 'failed'];

/**
 * The `q` quantile (0..1) of the durations counted in cumulative `buckets` (DURATION_BUCKETS,
 * then +Inf), in ms, interpolated within its bucket as Prometheus' histogram_quantile does.
 */
export function bucketQuantile(buckets: readonly number[], q: number): number | null {
  const total = buckets.at(-1) ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < buckets.length; i++) {
    if (buckets[i] < rank) continue;
    if (i >= DURATION_BUCKETS.length) return DURATION_BUCKETS[DURATION_BUCKETS.length - 1] * 1000;
    const lower = i === 0 ? 0 : DURATION_BUCKETS[i - 1];
    const below = i === 0 ? 0 : buckets[i - 1];
    const inBucket = buckets[i] - below;
    const share = inBucket === 0 ? 1 : (rank - below) / inBucket;
    return Math.round((lower + (DURATION_BUCKETS[i] - lower) * share) * 1000 * 10) / 10;
  }
  return null;
}

/** What happened between readings `from` and `to`. */
export function between(from: Reading, to: Reading): Omit<OverviewPoint, 'at'> {
  const seconds = Math.max((to.at - from.at) / 1000, 0.001);
  const finished = Object.fromEntries(
    STATUSES.map((status) => [status, Math.max(to.finished[status] - from.finished[status], 0)]),
  ) as Record<TerminalStatus, number>;
  const count = STATUSES.reduce((sum, status) => sum + finished[status], 0);
  const buckets = to.durationBuckets.map((value, i) =>
    Math.max(value - (from.durationBuckets[i] ?? 0), 0),
  );
  return {
    seconds: Math.round(seconds * 1000) / 1000,
    finished,
    perSecond: Math.round((count / seconds) * 1000) / 1000,
    p50Ms: bucketQuantile(buckets, 0.5),
    p95Ms: bucketQuantile(buckets, 0.95),
    compensationRate: count === 0 ? null : Math.round((finished.compensated / count) * 1000) / 1000,
  };
}

/**
 * The live overview of the console: the saga counters this instance already keeps for
 * GET /metrics, read every 5 s into a ring of the last 15 minutes. Nothing is read from the
 * database and nothing is added to a purchase.
 */
@Injectable()
export class SagaOverviewSampler implements OnModuleInit, OnModuleDestroy {
  private readonly readings: Reading[] = [];
  private timer: NodeJS.Timeout | undefined;

  async onModuleInit(): Promise<void> {
    await this.sample();
    this.timer = setInterval(() => void this.sample(), OVERVIEW_SAMPLE_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async sample(): Promise<void> {
    this.readings.push({ at: Date.now(), ...(await readSagaTotals()) });
    const keep = OVERVIEW_WINDOW_MS / OVERVIEW_SAMPLE_MS + 1;
    if (this.readings.length > keep) this.readings.splice(0, this.readings.length - keep);
  }

  async series(): Promise<SagaOverviewSeries> {
    const now: Reading = { at: Date.now(), ...(await readSagaTotals()) };
    const all = [...this.readings, now];
    const points: OverviewPoint[] = [];
    for (let i = 1; i < all.length; i++) {
      points.push({ at: new Date(all[i].at), ...between(all[i - 1], all[i]) });
    }
    return {
      scope: 'instance',
      sampleSeconds: OVERVIEW_SAMPLE_MS / 1000,
      windowSeconds: OVERVIEW_WINDOW_MS / 1000,
      points,
      window: between(all[0], now),
      generatedAt: new Date(now.at),
    };
  }
}
