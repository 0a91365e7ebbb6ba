import { BatchQueue, type BatchOutcome, type BatchQueueOptions } from './batch-queue';

const value = <O>(v: O): BatchOutcome<O> => ({ kind: 'value', value: v });

/** Lets `n` turns of the event loop pass (the queue schedules its flushes with setImmediate). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * A queue whose flushes each wait until the test answers them: `flushes` holds every batch
 * taken, in order, with the function that settles it.
 */
function controlled(options: BatchQueueOptions) {
  const flushes: {
    items: string[];
    answer: (outcomes: BatchOutcome<string>[]) => void;
    fail: (error: unknown) => void;
  }[] = [];
  let active = 0;
  let mostActive = 0;
  const queue = new BatchQueue<string, string>(async (items) => {
    active++;
    mostActive = Math.max(mostActive, active);
    try {
      return await new Promise<BatchOutcome<string>[]>((answer, fail) =>
        flushes.push({ items, answer, fail }),
      );
    } finally {
      active--;
    }
  }, options);
  /** Answers flush `index` with each item's own name, upper-cased. */
  const echo = (index: number) =>
    flushes[index].answer(flushes[index].items.map((item) => value(item.toUpperCase())));
  return { queue, flushes, echo, mostActive: () => mostActive };
}

describe('BatchQueue', () => {
  it('flushes a lone item alone, without waiting for company', async () => {
    const batches: number[][] = [];
    const queue = new BatchQueue<number, number>(
      (items) => {
        batches.push(items);
        return Promise.resolve(items.map((item) => value(item * 2)));
      },
      { maxBatch: 100, concurrency: 1 },
    );
    const answer = queue.submit(21);
    const first = await Promise.race([answer, turns(3).then(() => 'still waiting' as const)]);
    expect(first).toBe(42);
    expect(batches).toEqual([[21]]);
  });

  it('takes everything submitted while a flush runs into the next flush', async () => {
    const { queue, flushes, echo } = controlled({ maxBatch: 100, concurrency: 1 });
    const a = queue.submit('a');
    await turns(2);
    expect(flushes.map((f) => f.items)).toEqual([['a']]);

    const later = ['b', 'c', 'd'].map((item) => queue.submit(item));
    await turns(2);
    // The only slot is busy: nothing else has started, the three are waiting.
    expect(flushes).toHaveLength(1);
    expect(queue.pending).toBe(3);

    echo(0);
    await expect(a).resolves.toBe('A');
    await turns(2);
    expect(flushes.map((f) => f.items)).toEqual([['a'], ['b', 'c', 'd']]);
    echo(1);
    await expect(Promise.all(later)).resolves.toEqual(['B', 'C', 'D']);
    expect(queue.pending).toBe(0);
  });

  it('never puts more than maxBatch items in one flush, keeping their order', async () => {
    const batches: number[][] = [];
    const queue = new BatchQueue<number, number>(
      (items) => {
        batches.push(items);
        return Promise.resolve(items.map((item) => value(item)));
      },
      { maxBatch: 2, concurrency: 1 },
    );
    const answers = await Promise.all([1, 2, 3, 4, 5].map((item) => queue.submit(item)));
    expect(answers).toEqual([1, 2, 3, 4, 5]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('runs at most `concurrency` flushes at once, and starts the next as one ends', async () => {
    const { queue, flushes, echo, mostActive } = controlled({ maxBatch: 1, concurrency: 2 });
    const answers = Promise.all(['a', 'b', 'c', 'd', 'e'].map((item) => queue.submit(item)));
    await turns(2);
    expect(flushes.map((f) => f.items)).toEqual([['a'], ['b']]);

    echo(1);
    await turns(3);
    expect(flushes.map((f) => f.items)).toEqual([['a'], ['b'], ['c']]);
    for (let i = 0; i < 5; i++) {
      if (i !== 1) echo(i);
      await turns(3);
    }
    await expect(answers).resolves.toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(mostActive()).toBe(2);
  });

  it('rejects only the items a flush answered with their own error', async () => {
    const queue = new BatchQueue<number, number>(
      (items) =>
        Promise.resolve(
          items.map((item): BatchOutcome<number> =>
            item % 2 === 0 ? value(item) : { kind: 'error', error: new Error(`odd ${item}`) },
          ),
        ),
      { maxBatch: 10, concurrency: 1 },
    );
    const answers = await Promise.allSettled([1, 2, 3, 4].map((item) => queue.submit(item)));
    expect(answers).toEqual([
      { status: 'rejected', reason: new Error('odd 1') },
      { status: 'fulfilled', value: 2 },
      { status: 'rejected', reason: new Error('odd 3') },
      { status: 'fulfilled', value: 4 },
    ]);
  });

  it('rejects every item of a flush that throws, and goes on with later items', async () => {
    const { queue, flushes, echo } = controlled({ maxBatch: 10, concurrency: 1 });
    const failed = Promise.allSettled(['a', 'b'].map((item) => queue.submit(item)));
    await turns(2);
    const broken = new Error('connection lost');
    flushes[0].fail(broken);
    await expect(failed).resolves.toEqual([
      { status: 'rejected', reason: broken },
      { status: 'rejected', reason: broken },
    ]);

    const next = queue.submit('c');
    await turns(2);
    expect(flushes.map((f) => f.items)).toEqual([['a', 'b'], ['c']]);
    echo(1);
    await expect(next).resolves.toBe('C');
  });

  it('flushes a requeued item again, ahead of the items that arrived after it', async () => {
    const { queue, flushes, echo } = controlled({ maxBatch: 10, concurrency: 1 });
    const x = queue.submit('x');
    const w = queue.submit('w');
    await turns(2);
    const y = queue.submit('y');
    const z = queue.submit('z');
    flushes[0].answer([{ kind: 'requeue' }, value('W')]);
    await expect(w).resolves.toBe('W');
    await turns(2);
    expect(flushes.map((f) => f.items)).toEqual([
      ['x', 'w'],
      ['x', 'y', 'z'],
    ]);
    echo(1);
    await expect(Promise.all([x, y, z])).resolves.toEqual(['X', 'Y', 'Z']);
  });

  it('rejects every item when a flush answers the wrong number of outcomes', async () => {
    const queue = new BatchQueue<string, string>(() => Promise.resolve([value('only one')]), {
      maxBatch: 10,
      concurrency: 1,
    });
    const answers = await Promise.allSettled(['a', 'b'].map((item) => queue.submit(item)));
    expect(answers).toEqual([
      { status: 'rejected', reason: new Error('A batch of 2 answered 1 outcomes') },
      { status: 'rejected', reason: new Error('A batch of 2 answered 1 outcomes') },
    ]);
  });

  it('with lingerMs, waits that long before a flush, taking everything submitted meanwhile', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { queue, flushes, echo } = controlled({ maxBatch: 100, concurrency: 1, lingerMs: 40 });
      const a = queue.submit('a');
      jest.advanceTimersByTime(39);
      const b = queue.submit('b');
      await turns(3);
      expect(flushes).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(flushes.map((f) => f.items)).toEqual([['a', 'b']]);
      echo(0);
      expect(await Promise.all([a, b])).toEqual(['A', 'B']);
    } finally {
      jest.useRealTimers();
    }
  });

  it.each([
    [{ maxBatch: 0, concurrency: 1 }, /maxBatch must be a positive integer/],
    [{ maxBatch: 10, concurrency: 0 }, /concurrency must be a positive integer/],
    [{ maxBatch: 1.5, concurrency: 1 }, /maxBatch must be a positive integer/],
    [{ maxBatch: 10, concurrency: 1, lingerMs: -1 }, /lingerMs must be a whole number of ms/],
  ])('refuses options %j', (options, message) => {
    expect(() => new BatchQueue(() => Promise.resolve([]), options)).toThrow(message);
  });
});
