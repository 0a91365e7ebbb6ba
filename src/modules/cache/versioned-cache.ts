export type CacheAdapter = 'redis' | 'memory' | 'none';

export interface CacheStatus {
  adapter: CacheAdapter;
  status: 'up' | 'down' | 'disabled';
}

/**
 * What the cache knows of a key: a value at `version`, or (no value) only a version floor, left
 * by an invalidation: nothing older than `version` may be stored there any more.
 */
export interface CacheEntry {
  version: number;
  value?: string;
}

/** The cache could not answer (down, slow, or suspended after a failure). */
export class CacheUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CacheUnavailableError';
  }
}

/**
 * The cache port: values carry the monotonic version of what they were read from, and a write
 * never replaces a newer version (compare-on-write), so a reader that loaded an old state before
 * a commit cannot put it back after the commit's invalidation. Also the DI token.
 */
export abstract class VersionedCache {
  abstract readonly adapter: CacheAdapter;

  /** False when every read must go to the source (caching switched off). */
  get enabled(): boolean {
    return true;
  }

  /** What is known of `key`, or undefined. Rejects with CacheUnavailableError. */
  abstract get(key: string): Promise<CacheEntry | undefined>;

  /**
   * Stores `value` at `version` for `ttlMs` (0: records the version only), unless the key already
   * holds a newer version, or this version with a live value. Resolves to the version the key
   * holds afterwards: above `version` means the value was stale. Rejects with
   * CacheUnavailableError.
   */
  abstract put(key: string, version: number, value: string, ttlMs: number): Promise<number>;

  /**
   * Drops the value of `key` unless it is newer than `floor`, and leaves `floor` as the oldest
   * version that may be stored again. Rejects with CacheUnavailableError.
   */
  abstract invalidate(key: string, floor: number): Promise<void>;

  /** The last known state, without asking the cache. */
  abstract status(): CacheStatus;

  /** The state, asking the cache when its last known state is down (for health checks). */
  probe(): Promise<CacheStatus> {
    return Promise.resolve(this.status());
  }
}
