/** The share of a wait drawn at random either way, so that failed deliveries do not retry in step. */
const JITTER = 0.2;

/**
 * The wait before the retry that follows failed attempt number `attempts` (1 = the first send),
 * or undefined once the schedule is spent (the delivery is then failed).
 */
export function retryDelayMs(
  attempts: number,
  scheduleMs: readonly number[],
  random: () => number = Math.random,
): number | undefined {
  const base = scheduleMs[attempts - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}
