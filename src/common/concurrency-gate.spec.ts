import { ConcurrencyGate, type GateRefusal } from './concurrency-gate';

class Refused extends Error {
  constructor(readonly reason: GateRefusal) {
    super(reason);
  }
}

/** Work that runs until the test settles it. */
function pending() {
  let settle!: { resolve: (value: string) => void; reject: (error: Error) => void };
  let started = false;
  const work = () => {
    started = true;
    return new Promise<string>((resolve, reject) => {
      settle = { resolve, reject };
    });
  };
  return {
    work,
    get started() {
      return started;
    },
    resolve: (value: string) => settle.resolve(value),
    reject: (error: Error) => settle.reject(error),
  };
}

/** Lets queued promise reactions run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

function gate(limit: number, queue: number, maxWaitMs = 1000): ConcurrencyGate {
  return new ConcurrencyGate({
    limit,
    queue,
    maxWaitMs,
    refuse: (reason) => new Refused(reason),
  });
}

describe('ConcurrencyGate', () => {
  it('runs up to its limit at once and the rest in their order of arrival', async () => {
    const g = gate(2, 10);
    const works = [pending(), pending(), pending(), pending()];
    const answers = works.map((w) => g.run(w.work));
    await flush();
    expect(works.map((w) => w.started)).toEqual([true, true, false, false]);
    expect([g.running, g.waiting]).toEqual([2, 2]);

    works[1].resolve('b');
    await flush();
    expect(works.map((w) => w.started)).toEqual([true, true, true, false]);
    expect([g.running, g.waiting]).toEqual([2, 1]);

    works[0].resolve('a');
    works[2].resolve('c');
    await flush();
    works[3].resolve('d');
    expect(await Promise.all(answers)).toEqual(['a', 'b', 'c', 'd']);
    expect([g.running, g.waiting]).toEqual([0, 0]);
  });

  it('refuses at once beyond its queue, without running the work', async () => {
    const g = gate(1, 1);
    const held = pending();
    const queued = pending();
    const refused = pending();
    const first = g.run(held.work);
    const second = g.run(queued.work);
    await expect(g.run(refused.work)).rejects.toEqual(new Refused('queue-full'));
    expect(refused.started).toBe(false);
    expect([g.running, g.waiting]).toEqual([1, 1]);
    held.resolve('a');
    await flush();
    queued.resolve('b');
    expect([await first, await second]).toEqual(['a', 'b']);
    expect([g.running, g.waiting]).toEqual([0, 0]);
  });

  it('frees the turn of work that fails, rejects or throws, and passes it on', async () => {
    const g = gate(1, 5);
    const failing = pending();
    const answers = [
      g.run(failing.work),
      g.run(() => {
        throw new Error('thrown before any promise');
      }),
      g.run(() => Promise.reject(new Error('rejected'))),
      g.run(() => Promise.resolve('after them')),
    ];
    failing.reject(new Error('failed'));
    const settled = await Promise.allSettled(answers);
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : String(s.reason)))).toEqual([
      'Error: failed',
      'Error: thrown before any promise',
      'Error: rejected',
      'after them',
    ]);
    expect([g.running, g.waiting]).toEqual([0, 0]);
  });

  describe('a wait', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('longer than maxWaitMs is refused, leaves the queue, and its work never runs', async () => {
      const g = gate(1, 2, 500);
      const held = pending();
      const late = pending();
      const first = g.run(held.work);
      const waited = g.run(late.work);
      const outcome = waited.catch((error: unknown) => error);
      jest.advanceTimersByTime(499);
      expect(g.waiting).toBe(1);
      jest.advanceTimersByTime(1);
      expect(await outcome).toEqual(new Refused('waited-too-long'));
      expect([g.running, g.waiting]).toEqual([1, 0]);

      held.resolve('a');
      expect(await first).toBe('a');
      expect(late.started).toBe(false);
      expect([g.running, g.waiting]).toEqual([0, 0]);
    });

    it('ended by a turn keeps no timer behind', async () => {
      const g = gate(1, 1, 500);
      const held = pending();
      const first = g.run(held.work);
      const second = g.run(() => Promise.resolve('b'));
      held.resolve('a');
      expect([await first, await second]).toEqual(['a', 'b']);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('with no longest wait sets no timer and waits for its turn however long', async () => {
      const g = gate(1, 5, Infinity);
      const held = pending();
      const first = g.run(held.work);
      const second = g.run(() => Promise.resolve('b'));
      expect(jest.getTimerCount()).toBe(0);
      jest.advanceTimersByTime(86_400_000);
      expect(g.waiting).toBe(1);
      held.resolve('a');
      expect([await first, await second]).toEqual(['a', 'b']);
      expect([g.running, g.waiting]).toEqual([0, 0]);
    });
  });

  it('ends where it began after a storm of work that succeeds, fails and is refused', async () => {
    const g = gate(3, 4, 50);
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const delay = (i * 7) % 13;
      answers.push(
        g.run(
          () =>
            new Promise((resolve, reject) =>
              setTimeout(() => (i % 5 === 0 ? reject(new Error('no')) : resolve(i)), delay),
            ),
        ),
      );
      if (i % 20 === 0) await flush();
    }
    const settled = await Promise.allSettled(answers);
    const reasons = new Set(
      settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : [])),
    );
    expect(reasons).toContain('Error: no');
    expect(reasons).toContain('Error: queue-full');
    // A machine busy enough to hold a waiter past its 50 ms refuses it too; nothing else.
    expect(
      [...reasons].every((r) =>
        ['Error: no', 'Error: queue-full', 'Error: waited-too-long'].includes(r),
      ),
    ).toBe(true);
    expect(settled.some((s) => s.status === 'fulfilled')).toBe(true);
    expect([g.running, g.waiting]).toEqual([0, 0]);
  });
});
