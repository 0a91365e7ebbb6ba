import { randomUUID } from 'node:crypto';

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then random bits. Ids made
 * later sort later, so the btree indexes keyed by them (saga ids, log and notification ids,
 * outbox event ids) grow at their right edge and stay in cache, instead of taking every insert
 * on a random page of an index larger than memory.
 */
export function timeOrderedId(now: number = Date.now()): string {
  const time = now.toString(16).padStart(12, '0');
  // A version 4 UUID lends its random bits and variant: only the time and version differ.
  const random = randomUUID();
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
