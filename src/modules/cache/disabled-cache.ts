import { CacheEntry, VersionedCache, type CacheStatus } from './versioned-cache';

/** CACHE_ENABLED=false: remembers nothing, so every read goes to the database. */
export class DisabledCache extends VersionedCache {
  readonly adapter = 'none';

  override get enabled(): boolean {
    return false;
  }

  get(): Promise<CacheEntry | undefined> {
    return Promise.resolve(undefined);
  }

  put(_key: string, version: number): Promise<number> {
    return Promise.resolve(version);
  }

  invalidate(): Promise<void> {
    return Promise.resolve();
  }

  status(): CacheStatus {
    return { adapter: 'none', status: 'disabled' };
  }
}
