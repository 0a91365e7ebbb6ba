import { MemoryVersionedCache } from './memory-versioned-cache';

describe('MemoryVersionedCache', () => {
  let now: number;
  let cache: MemoryVersionedCache;

  beforeEach(() => {
    now = 1_000_000;
    cache = new MemoryVersionedCache({ maxEntries: 3, floorTtlMs: 10_000 }, () => now);
  });

  it('serves a value until its own ttl, then keeps only its version as a floor', async () => {
    expect(await cache.put('k', 4, 'v4', 500)).toBe(4);
    expect(await cache.get('k')).toEqual({ version: 4, value: 'v4' });
    now += 500;
    expect(await cache.get('k')).toEqual({ version: 4 });
    expect(await cache.put('k', 3, 'v3', 500)).toBe(4);
    expect(await cache.put('k', 4, 'v4 again', 500)).toBe(4);
    expect(await cache.get('k')).toEqual({ version: 4, value: 'v4 again' });
  });

  it('forgets a key entirely after the floor ttl', async () => {
    await cache.invalidate('k', 7);
    now += 10_000;
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.put('k', 1, 'v1', 500)).toBe(1);
  });

  it('evicts the least recently used key beyond maxEntries', async () => {
    await cache.put('a', 1, 'a', 5000);
    await cache.put('b', 1, 'b', 5000);
    await cache.put('c', 1, 'c', 5000);
    await cache.get('a');
    await cache.put('d', 1, 'd', 5000);
    expect(cache.size).toBe(3);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toEqual({ version: 1, value: 'a' });
  });

  it('with a zero ttl records the version but serves no value', async () => {
    expect(await cache.put('k', 2, 'v2', 0)).toBe(2);
    expect(await cache.get('k')).toEqual({ version: 2 });
    expect(await cache.put('k', 1, 'v1', 1000)).toBe(2);
  });
});
