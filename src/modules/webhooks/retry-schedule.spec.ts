import { retryDelayMs } from './retry-schedule';

describe('webhook retry schedule', () => {
  const schedule = [5_000, 300_000, 1_800_000];

  it('waits each step of the schedule after each failed attempt, within ±20 %', () => {
    expect(retryDelayMs(1, schedule, () => 0.5)).toBe(5_000);
    expect(retryDelayMs(2, schedule, () => 0)).toBe(240_000);
    expect(retryDelayMs(3, schedule, () => 1)).toBe(2_160_000);
  });

  it('has no wait once the schedule is spent: the delivery is failed', () => {
    expect(retryDelayMs(4, schedule)).toBeUndefined();
    expect(retryDelayMs(1, [])).toBeUndefined();
  });

  it('draws the jitter at random by default', () => {
    const delay = retryDelayMs(1, schedule) ?? 0;
    expect(delay).toBeGreaterThanOrEqual(4_000);
    expect(delay).toBeLessThanOrEqual(6_000);
  });
});
