import { SingleFlight } from './single-flight';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('runs one load for concurrent callers of a key, and a new one afterwards', async () => {
    const flight = new SingleFlight<string>();
    const gate = deferred<string>();
    const load = jest.fn(() => gate.promise);
    const callers = Array.from({ length: 10 }, () => flight.run('k', load));
    const other = flight.run('other', () => Promise.resolve('o'));
    gate.resolve('v');
    expect(await Promise.all(callers)).toEqual(Array(10).fill('v'));
    expect(await other).toBe('o');
    expect(load).toHaveBeenCalledTimes(1);
    expect(flight.size).toBe(0);
    await flight.run('k', load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('shares a failure with every caller, then lets the next caller try again', async () => {
    const flight = new SingleFlight<string>();
    const gate = deferred<string>();
    const callers = [1, 2].map(() => flight.run('k', () => gate.promise));
    gate.reject(new Error('down'));
    for (const caller of callers) await expect(caller).rejects.toThrow('down');
    await expect(flight.run('k', () => Promise.resolve('ok'))).resolves.toBe('ok');
  });

  it('after forget, a caller starts a fresh load and the old one cannot evict it', async () => {
    const flight = new SingleFlight<string>();
    const old = deferred<string>();
    const first = flight.run('k', () => old.promise);
    flight.forget('k');
    const fresh = deferred<string>();
    const second = flight.run('k', () => fresh.promise);
    old.resolve('old');
    expect(await first).toBe('old');
    const third = flight.run('k', () => Promise.resolve('unexpected'));
    fresh.resolve('new');
    expect(await second).toBe('new');
    expect(await third).toBe('new');
  });
});
