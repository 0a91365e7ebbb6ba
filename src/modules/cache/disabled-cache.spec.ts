import { DisabledCache } from './disabled-cache';

describe('DisabledCache', () => {
  it('remembers nothing, so every read goes to the database', async () => {
    const cache = new DisabledCache();
    expect(cache.enabled).toBe(false);
    expect(await cache.put('saga:1', 3)).toBe(3);
    expect(await cache.get()).toBeUndefined();
    await expect(cache.invalidate()).resolves.toBeUndefined();
    expect(cache.status()).toEqual({ adapter: 'none', status: 'disabled' });
    expect(await cache.probe()).toEqual({ adapter: 'none', status: 'disabled' });
  });
});
