import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { OnEvent } from '@nestjs/event-emitter';
import type { AppConfig, CacheConfig } from '../../../config/configuration';
import { sharedCounter } from '../../cache/cache-metrics';
import { SingleFlight } from '../../cache/single-flight';
import { VersionedCache } from '../../cache/versioned-cache';
import { SAGA_CHANGED, type SagaChangedEvent } from '../core/saga-changed.event';
import type { SagaView } from './saga.mapper';
import { encodeSagaView, sealSagaView, unsealSagaView } from './saga-view.codec';

/** A saga as read from the database: its view and the versions it was read at. */
export interface LoadedSaga {
  version: number;
  /** Its notification's revision (delivery changes leave the saga's row version alone). */
  notificationRevision: number;
  view: SagaView;
  /** No further change is expected, so it may be cached long. */
  settled: boolean;
}

const requests = sharedCounter(
  'saga_cache_requests_total',
  'Saga reads by cache outcome (error: the cache failed or held garbage; the database answered)',
  ['result'] as const,
);
const invalidationErrors = sharedCounter(
  'saga_cache_invalidation_errors_total',
  'Saga changes whose cache invalidation failed',
  [] as const,
);

/** Reads of a stale value in a row before giving up on caching it (a saga changing quickly). */
const MAX_LOADS = 3;

/**
 * Sagas whose landed floor is remembered, per generation (two are kept): a few seconds of
 * purchases, to answer them for free.
 */
const LANDED_KEPT = 10_000;

const keyOf = (transactionId: string) => `saga:${transactionId}`;

/**
 * A notification's delivery changes at most twice (pending → failed → delivered): its revision
 * stays below this.
 */
const REVISIONS = 4;

/**
 * The version a saga's view is cached at: its row version first, its notification's revision
 * within it. Every committed change of either raises it, so the cache's floors keep working for
 * both.
 */
export function viewVersion(version: number, notificationRevision = 0): number {
  return version * REVISIONS + Math.min(notificationRevision, REVISIONS - 1);
}

/**
 * Read-through cache of saga views. An entry carries the saga row's version and is never
 * replaced by an older one; once a committed change's invalidation (SAGA_CHANGED) has reached
 * the cache, the entry below its version is gone and a floor keeps a reader that loaded the
 * previous state from putting it back. A read whose store is refused because a newer version is
 * held reads the database again (up to MAX_LOADS times, then answers what it read). Until that
 * invalidation lands, a hit may still serve the previous state: the invalidation of a change
 * that does not end the saga is not awaited (that of the final change is, before the purchase
 * is answered; a purchase answered with a state read otherwise raises the floor first, see
 * `keepFrom`), and an in-process cache only hears of the changes made in its own process.
 * The cache only serves the read API: no decision of the saga is ever made from it.
 */
@Injectable()
export class SagaViewCache {
  private readonly logger = new Logger(SagaViewCache.name);
  private readonly config: CacheConfig;
  private readonly loads = new SingleFlight<string | undefined>();
  /** Saga → the newest version whose floor this process has seen reach the cache. */
  private landedNow = new Map<string, number>();
  private landedBefore = new Map<string, number>();

  constructor(
    private readonly cache: VersionedCache,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('cache', { infer: true });
  }

  /**
   * The view of a saga as JSON text, from the cache (sent as stored), else from `load`
   * (undefined: no such saga).
   */
  async read(
    transactionId: string,
    load: () => Promise<LoadedSaga | undefined>,
  ): Promise<string | undefined> {
    if (!this.cache.enabled) {
      const loaded = await load();
      return loaded === undefined ? undefined : encodeSagaView(loaded.view);
    }
    const key = keyOf(transactionId);
    try {
      const entry = await this.cache.get(key);
      if (entry?.value !== undefined) {
        const text = unsealSagaView(entry.value, transactionId);
        if (text !== undefined) {
          requests.inc({ result: 'hit' });
          return text;
        }
        requests.inc({ result: 'error' });
        await this.discard(key, entry.version);
      } else {
        requests.inc({ result: 'miss' });
      }
    } catch {
      requests.inc({ result: 'error' });
    }
    return this.loads.run(key, () => this.loadAndStore(transactionId, load));
  }

  /** After every committed change: nothing older than the new version may be served or stored. */
  @OnEvent(SAGA_CHANGED)
  async onSagaChanged(event: SagaChangedEvent): Promise<void> {
    this.loads.forget(keyOf(event.transactionId));
    const version = viewVersion(event.version, event.notificationRevision);
    // A saga just created has no older state anyone could have cached.
    if (event.previousStatus === null) this.land(event.transactionId, version);
    else await this.raiseFloor(event.transactionId, version);
  }

  private async raiseFloor(transactionId: string, version: number): Promise<void> {
    const key = keyOf(transactionId);
    try {
      await this.cache.invalidate(key, version);
      this.land(transactionId, version);
    } catch (error) {
      invalidationErrors.inc();
      this.logger.debug(`Invalidation of ${key} failed: ${String(error)}`);
    }
  }

  /**
   * Remembers the newest floor this process has seen land, for the last LANDED_KEPT to twice as
   * many sagas: a full generation becomes the previous one, and the one before is dropped whole.
   */
  private land(transactionId: string, version: number): void {
    if (this.landedAt(transactionId) >= version) return;
    if (this.landedNow.size >= LANDED_KEPT) {
      this.landedBefore = this.landedNow;
      this.landedNow = new Map();
    }
    this.landedNow.set(transactionId, version);
  }

  private landedAt(transactionId: string): number {
    return this.landedNow.get(transactionId) ?? this.landedBefore.get(transactionId) ?? -1;
  }

  /**
   * Before a state read from the database is shown (an answer to `POST /purchase`): nothing older
   * than `version` is served after it. Free when this process's invalidation of that change has
   * landed already (the usual case: a purchase is answered once its final change was awaited);
   * else one invalidation (a `202` answer, a replay, a saga another instance moved). A failing
   * cache is counted and let be, as for a change's invalidation.
   */
  async keepFrom(transactionId: string, sagaVersion: number): Promise<void> {
    const version = viewVersion(sagaVersion);
    if (!this.cache.enabled || this.landedAt(transactionId) >= version) return;
    await this.raiseFloor(transactionId, version);
  }

  /**
   * After sagas were removed from the database (retention): their entries go, so that a read
   * finds them gone instead of a cached view. Failures are counted; the entries then expire.
   */
  async forget(sagas: readonly { transactionId: string; version: number }[]): Promise<void> {
    if (!this.cache.enabled) return;
    await Promise.all(
      sagas.map(({ transactionId, version }) => {
        this.loads.forget(keyOf(transactionId));
        // Above any version the saga had: nothing of it may be stored again.
        return this.raiseFloor(transactionId, viewVersion(version + 1));
      }),
    );
  }

  private async loadAndStore(
    transactionId: string,
    load: () => Promise<LoadedSaga | undefined>,
  ): Promise<string | undefined> {
    const key = keyOf(transactionId);
    for (let n = 1; ; n++) {
      const loaded = await load();
      if (loaded === undefined) return undefined;
      const ttlMs = loaded.settled ? this.config.ttlMs : this.config.inFlightTtlMs;
      const text = encodeSagaView(loaded.view);
      const version = viewVersion(loaded.version, loaded.notificationRevision);
      let held: number;
      try {
        held = await this.cache.put(key, version, sealSagaView(text, transactionId), ttlMs);
      } catch {
        return text;
      }
      // A newer version committed while this one was read: read again rather than answer it
      // (after MAX_LOADS reads, a saga changing that fast is answered as last read).
      if (held <= version || n >= MAX_LOADS) return text;
    }
  }

  private async discard(key: string, version: number): Promise<void> {
    try {
      await this.cache.invalidate(key, version);
    } catch {
      // the cache is failing: the read goes to the database anyway
    }
  }
}
