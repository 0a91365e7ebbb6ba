import { CacheEntry, VersionedCache, type CacheStatus } from './versioned-cache';

interface Slot {
  version: number;
  value?: string;
  valueExpiresAt: number;
  expiresAt: number;
}

/**
 * The in-process adapter: a least-recently-used map of at most `maxEntries` keys, with the same
 * compare-on-write rules as Redis. Floors outlive values by `floorTtlMs`.
 */
export class MemoryVersionedCache extends VersionedCache {
  readonly adapter = 'memory';
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly options: { maxEntries: number; floorTtlMs: number },
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  get size(): number {
    return this.slots.size;
  }

  get(key: string): Promise<CacheEntry | undefined> {
    const slot = this.live(key);
    if (slot === undefined) return Promise.resolve(undefined);
    this.touch(key, slot);
    const fresh = slot.value !== undefined && slot.valueExpiresAt > this.now();
    return Promise.resolve(
      fresh ? { version: slot.version, value: slot.value } : { version: slot.version },
    );
  }

  put(key: string, version: number, value: string, ttlMs: number): Promise<number> {
    const slot = this.live(key);
    const now = this.now();
    if (slot !== undefined) {
      const fresh = slot.value !== undefined && slot.valueExpiresAt > now;
      if (version < slot.version || (version === slot.version && fresh)) {
        return Promise.resolve(slot.version);
      }
    }
    this.touch(key, {
      version,
      value,
      valueExpiresAt: now + ttlMs,
      expiresAt: now + Math.max(ttlMs, this.options.floorTtlMs),
    });
    return Promise.resolve(version);
  }

  invalidate(key: string, floor: number): Promise<void> {
    const slot = this.live(key);
    if (slot === undefined || slot.version <= floor) {
      const now = this.now();
      this.touch(key, {
        version: floor,
        valueExpiresAt: now,
        expiresAt: now + this.options.floorTtlMs,
      });
    }
    return Promise.resolve();
  }

  status(): CacheStatus {
    return { adapter: 'memory', status: 'up' };
  }

  private live(key: string): Slot | undefined {
    const slot = this.slots.get(key);
    if (slot !== undefined && slot.expiresAt <= this.now()) {
      this.slots.delete(key);
      return undefined;
    }
    return slot;
  }

  /** Marks `key` most recently used, evicting the least recently used beyond the bound. */
  private touch(key: string, slot: Slot): void {
    this.slots.delete(key);
    this.slots.set(key, slot);
    if (this.slots.size > this.options.maxEntries) {
      const oldest = this.slots.keys().next();
      if (oldest.done !== true) this.slots.delete(oldest.value);
    }
  }
}
