import type { SagaVersions } from '../core/saga-versions';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../../config/configuration';
import type {
  SagaListFilter,
  SagaReportsRepository,
  SagaSummaryRow,
} from './saga-reports.repository';
import type { SagaRollupsRepository } from './saga-rollups.repository';
import { EXACT_TOTAL_UP_TO, quantileOfBuckets, SagaReportsService } from './saga-reports.service';

function row(n: number): SagaSummaryRow & { cursor_created_at: string } {
  return {
    transaction_id: `TXN_${n}`,
    status: 'completed',
    pattern: 'orchestration',
    user_id: 'user-1',
    item_id: 'item-1',
    quantity: 1,
    price: '1.00',
    current_step: null,
    error_step: null,
    error_code: null,
    error_message: null,
    created_at: new Date(0),
    completed_at: null,
    failed_at: null,
    definition_name: 'purchase',
    definition_version: 1,
    cursor_created_at: '1970-01-01T00:00:00.000000Z',
  };
}

/** A listing over `matching` sagas, whose planner estimates `estimate`; what was asked is kept. */
function service(matching: number, estimate = 0) {
  const asked: string[] = [];
  const reports = {
    page: (_filter: SagaListFilter, limit: number, offset: number) => {
      asked.push('page');
      const count = Math.max(0, Math.min(limit, matching - offset));
      return Promise.resolve(Array.from({ length: count }, (_, i) => row(offset + i)));
    },
    countUpTo: (_filter: SagaListFilter, cap: number) => {
      asked.push('count');
      return Promise.resolve(Math.min(matching, cap + 1));
    },
    estimate: () => {
      asked.push('estimate');
      return Promise.resolve(estimate);
    },
  } as unknown as SagaReportsRepository;
  const config = new ConfigService<AppConfig, true>({ saga: { timeoutMs: 30_000 } });
  // Listings never read the rollups.
  const rollups = {} as unknown as SagaRollupsRepository;
  return { asked, sagas: new SagaReportsService(reports, rollups, config, {} as SagaVersions) };
}

describe('SagaReportsService.list', () => {
  it('counts nothing when the page reaches the end of the list', async () => {
    const { asked, sagas } = service(45);
    expect(await sagas.list({}, 3, 20)).toMatchObject({
      total: 45,
      totalEstimated: false,
      totalPages: 3,
      nextCursor: null,
    });
    expect(asked).toEqual(['page']);
  });

  it('counts exactly up to the cap', async () => {
    const { asked, sagas } = service(EXACT_TOTAL_UP_TO);
    const page = await sagas.list({}, 1, 20);
    expect(page).toMatchObject({
      total: EXACT_TOTAL_UP_TO,
      totalEstimated: false,
      totalPages: EXACT_TOTAL_UP_TO / 20,
    });
    expect(page.nextCursor).not.toBeNull();
    expect(asked).toEqual(['page', 'count']);
  });

  it("answers the planner's estimate beyond the cap, marked as such", async () => {
    const { asked, sagas } = service(2_000_000, 1_987_654);
    expect(await sagas.list({}, 1, 50)).toMatchObject({
      total: 1_987_654,
      totalEstimated: true,
      totalPages: 39_754,
    });
    expect(asked).toEqual(['page', 'count', 'estimate']);
  });

  it('never estimates below what it counted or showed', async () => {
    const { sagas } = service(20_000, 12);
    expect(await sagas.list({}, 1, 20)).toMatchObject({
      total: EXACT_TOTAL_UP_TO + 1,
      totalEstimated: true,
    });
  });

  it('counts a page past the end, and pages by cursor', async () => {
    const beyond = service(45);
    expect(await beyond.sagas.list({}, 9, 20)).toMatchObject({ data: [], total: 45 });
    expect(beyond.asked).toEqual(['page', 'count']);
    const keyset = service(5);
    const cursor = { createdAt: '1970-01-01T00:00:00.000000Z', transactionId: 'TXN_9' };
    expect(await keyset.sagas.list({}, 1, 20, cursor)).toMatchObject({ total: 5 });
    expect(keyset.asked).toEqual(['page', 'count']);
  });
});

describe('quantileOfBuckets', () => {
  // Bucket b holds durations in (2^((b-1)/4), 2^(b/4)] ms; bucket 0 up to 1 ms.
  it('is null without samples', () => {
    expect(quantileOfBuckets([], 0.5)).toBeNull();
    expect(quantileOfBuckets([{ bucket: 12, count: 0 }], 0.5)).toBeNull();
  });

  it('interpolates inside the bucket that holds the rank', () => {
    // 4 samples in (4, 8] ms (bucket 12 ends at 2^3 = 8, bucket 8 at 4).
    expect(quantileOfBuckets([{ bucket: 12, count: 4 }], 0.5)).toBe(
      Math.round((2 ** (11 / 4) + (8 - 2 ** (11 / 4)) * 0.5) * 10) / 10,
    );
    expect(quantileOfBuckets([{ bucket: 12, count: 4 }], 1)).toBe(8);
    expect(quantileOfBuckets([{ bucket: 0, count: 2 }], 0.5)).toBe(0.5);
  });

  it('walks the buckets in order, whatever order they come in', () => {
    const buckets = [
      { bucket: 40, count: 5 },
      { bucket: 4, count: 95 },
    ];
    // 95 of 100 at or below 2 ms: the median is in bucket 4, the 99th percentile in bucket 40.
    const p50 = quantileOfBuckets(buckets, 0.5);
    expect(p50).toBeGreaterThan(2 ** (3 / 4));
    expect(p50).toBeLessThanOrEqual(2);
    expect(quantileOfBuckets(buckets, 0.95)).toBe(2);
    const p99 = quantileOfBuckets(buckets, 0.99);
    expect(p99).toBeGreaterThan(2 ** (39 / 4));
    expect(p99).toBeLessThanOrEqual(1024);
  });
});
