import { ConfigService } from '@nestjs/config';
import { register } from 'prom-client';
import { buildConfig, type AppConfig } from '../../../config/configuration';
import { DisabledCache } from '../../cache/disabled-cache';
import { MemoryVersionedCache } from '../../cache/memory-versioned-cache';
import { CacheUnavailableError, type CacheEntry } from '../../cache/versioned-cache';
import { notificationDeliveryChanged, sagaChanged } from '../core/saga-changed.event';
import { SagaViewCache, viewVersion } from './saga-view.cache';

const config = new ConfigService<AppConfig, true>(buildConfig({}));

/** A cache that refuses every invalidation, as a Redis gone away would. */
class RefusingCache extends MemoryVersionedCache {
  override invalidate(): Promise<void> {
    return Promise.reject(new CacheUnavailableError('Redis is unavailable'));
  }
}

function changed(transactionId: string, version: number) {
  return sagaChanged(
    {
      context: { transactionId, pattern: 'orchestration' },
      status: 'in_progress',
      version,
      startedAt: new Date(),
    },
    'pending',
    null,
  );
}

async function invalidationErrors(): Promise<number> {
  const metric = register.getSingleMetric('saga_cache_invalidation_errors_total');
  const { values } = (await metric?.get()) ?? { values: [] };
  return values[0]?.value ?? 0;
}

function memory(): MemoryVersionedCache {
  return new MemoryVersionedCache({ maxEntries: 100_000, floorTtlMs: 60_000 });
}

describe('SagaViewCache.keepFrom', () => {
  it('drops an older cached state before a newer one is shown', async () => {
    const cache = memory();
    const views = new SagaViewCache(cache, config);
    await cache.put('saga:TXN_a', viewVersion(2), 'the state at version 2', 60_000);

    await views.keepFrom('TXN_a', 3);

    const entry: CacheEntry | undefined = await cache.get('saga:TXN_a');
    expect(entry).toEqual({ version: viewVersion(3) });
    // The older state can no longer be stored back.
    expect(await cache.put('saga:TXN_a', viewVersion(2), 'the state at version 2', 60_000)).toBe(
      viewVersion(3),
    );
  });

  it('asks nothing of the cache when this process saw that change land', async () => {
    const cache = memory();
    const views = new SagaViewCache(cache, config);
    await views.onSagaChanged(changed('TXN_b', 4));
    const invalidate = jest.spyOn(cache, 'invalidate');

    await views.keepFrom('TXN_b', 4);
    await views.keepFrom('TXN_b', 3);
    expect(invalidate).not.toHaveBeenCalled();

    await views.keepFrom('TXN_b', 5);
    expect(invalidate).toHaveBeenCalledWith('saga:TXN_b', viewVersion(5));
  });

  it('remembers the last ten to twenty thousand sagas, then asks the cache again', async () => {
    const cache = memory();
    const views = new SagaViewCache(cache, config);
    await views.onSagaChanged(changed('TXN_first', 2));
    for (let n = 0; n < 10_000; n++) await views.onSagaChanged(changed(`TXN_${n}`, 2));
    const invalidate = jest.spyOn(cache, 'invalidate');
    // In the previous generation now: still known.
    await views.keepFrom('TXN_first', 2);
    expect(invalidate).not.toHaveBeenCalled();

    for (let n = 10_000; n < 20_000; n++) await views.onSagaChanged(changed(`TXN_${n}`, 2));
    invalidate.mockClear();
    await views.keepFrom('TXN_first', 2);
    expect(invalidate).toHaveBeenCalledWith('saga:TXN_first', viewVersion(2));
  });

  it("drops a completed saga's view when only its notification's delivery changed", async () => {
    const cache = memory();
    const views = new SagaViewCache(cache, config);
    // Cached at row version 9, the notification still pending (revision 0).
    await cache.put('saga:TXN_n', viewVersion(9, 0), 'pending', 60_000);
    await views.onSagaChanged(
      notificationDeliveryChanged({
        transactionId: 'TXN_n',
        pattern: 'orchestration',
        version: 9,
        revision: 1,
      }),
    );
    expect(await cache.get('saga:TXN_n')).toEqual({ version: viewVersion(9, 1) });
    // The pending view read before the change can no longer be stored back; the delivered one can.
    expect(await cache.put('saga:TXN_n', viewVersion(9, 0), 'pending', 60_000)).toBe(
      viewVersion(9, 1),
    );
    expect(await cache.put('saga:TXN_n', viewVersion(9, 1), 'delivered', 60_000)).toBe(
      viewVersion(9, 1),
    );
    // A later change of the saga itself (an admin's) still comes after any revision.
    expect(viewVersion(10, 0)).toBeGreaterThan(viewVersion(9, 2));
  });

  it('counts a refused invalidation, does not throw, and tries again next time', async () => {
    const cache = new RefusingCache({ maxEntries: 10, floorTtlMs: 60_000 });
    const views = new SagaViewCache(cache, config);
    const invalidate = jest.spyOn(cache, 'invalidate');
    const before = await invalidationErrors();

    await expect(views.keepFrom('TXN_c', 3)).resolves.toBeUndefined();
    await expect(views.keepFrom('TXN_c', 3)).resolves.toBeUndefined();

    expect(invalidate).toHaveBeenCalledTimes(2);
    expect(await invalidationErrors()).toBe(before + 2);
  });

  it('does nothing with caching switched off, and every read goes to the source', async () => {
    const cache = new DisabledCache();
    const invalidate = jest.spyOn(cache, 'invalidate');
    const views = new SagaViewCache(cache, config);
    const load = jest.fn(() =>
      Promise.resolve(undefined as Awaited<ReturnType<Parameters<SagaViewCache['read']>[1]>>),
    );

    await views.keepFrom('TXN_d', 3);
    await views.forget([{ transactionId: 'TXN_d', version: 3 }]);
    expect(await views.read('TXN_d', load)).toBeUndefined();
    expect(await views.read('TXN_d', load)).toBeUndefined();

    expect(invalidate).not.toHaveBeenCalled();
    expect(load).toHaveBeenCalledTimes(2);
  });
});
