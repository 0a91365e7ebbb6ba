import { between, bucketQuantile } from './saga-overview';
import { DURATION_BUCKETS } from './saga-metrics';

/** Cumulative buckets (DURATION_BUCKETS then +Inf) from per-bucket counts. */
function cumulative(perBucket: Record<number, number>): number[] {
  let sum = 0;
  return [...DURATION_BUCKETS, Infinity].map((_bound, i) => (sum += perBucket[i] ?? 0));
}

describe('bucketQuantile', () => {
  it('is null without observations', () => {
    expect(bucketQuantile(cumulative({}), 0.5)).toBeNull();
  });

  it('interpolates within the bucket holding the rank, in ms', () => {
    // Ten sagas between 0.1 s and 0.25 s (bucket index 5).
    const buckets = cumulative({ 5: 10 });
    expect(bucketQuantile(buckets, 0.5)).toBe(175);
    expect(bucketQuantile(buckets, 0.95)).toBe(242.5);
  });

  it('answers the highest bound for ranks in the +Inf bucket', () => {
    expect(bucketQuantile(cumulative({ [DURATION_BUCKETS.length]: 3 }), 0.5)).toBe(60_000);
  });
});

describe('between', () => {
  const reading = (at: number, completed: number, compensated: number, inFirst: number) => ({
    at,
    finished: { completed, compensated, failed: 0 },
    durationBuckets: cumulative({ 0: inFirst }),
  });

  it('counts what finished in the interval, per second, with the compensation rate', () => {
    const point = between(reading(0, 10, 0, 10), reading(5000, 16, 4, 20));
    expect(point).toEqual({
      seconds: 5,
      finished: { completed: 6, compensated: 4, failed: 0 },
      perSecond: 2,
      p50Ms: 2.5,
      p95Ms: 4.8,
      compensationRate: 0.4,
    });
  });

  it('has no rate or percentiles when nothing finished', () => {
    expect(between(reading(0, 1, 1, 2), reading(5000, 1, 1, 2))).toMatchObject({
      perSecond: 0,
      p50Ms: null,
      p95Ms: null,
      compensationRate: null,
    });
  });
});
