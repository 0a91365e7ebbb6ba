import { quantileOfBuckets } from './saga-reports.service';

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
