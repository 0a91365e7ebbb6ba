import { AsyncResource } from 'node:async_hooks';

/** What a flush answers for one item: its value, its own error, or "run me in a later batch". */
export type BatchOutcome<O> =
  { kind: 'value'; value: O } | { kind: 'error'; error: unknown } | { kind: 'requeue' };

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export interface BatchQueueOptions {
  /** The most items one flush takes. */
  maxBatch: number;
  /** How many flushes may run at once. */
  concurrency: number;
  /**
   * How long a flush waits, once it could start, for more items to join it (ms; default 0: the
   * next turn of the event loop). For work that nobody waits on, where fewer and larger
   * flushes are worth the delay.
   */
  lingerMs?: number;
}

/**
 * Group commit for callers that arrive one at a time: `submit` queues an item, and a flush takes
 * everything queued (up to `maxBatch`) in one go. A flush starts as soon as a slot is free, so a
 * lone caller waits for nothing; under load, items pile up while a flush runs and the next one
 * takes them all, which is what shares round trips and commits between them. When a flush
 * throws, every item of it gets that error.
 */
export class BatchQueue<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private running = 0;
  private scheduled = false;
  private readonly lingerMs: number;
  // Flushes run in the async context the queue was made in, never in a submitter's (which may
  // hold an open transaction that a flush must not join).
  private readonly drainLater: () => void;

  constructor(
    private readonly flush: (items: I[]) => Promise<BatchOutcome<O>[]>,
    private readonly options: BatchQueueOptions,
  ) {
    // Empty batches would spin forever, and no slot would leave every caller waiting.
    for (const name of ['maxBatch', 'concurrency'] as const) {
      const value = options[name];
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`BatchQueue ${name} must be a positive integer, not ${value}`);
      }
    }
    this.lingerMs = options.lingerMs ?? 0;
    if (!Number.isSafeInteger(this.lingerMs) || this.lingerMs < 0) {
      throw new RangeError(
        `BatchQueue lingerMs must be a whole number of ms, not ${this.lingerMs}`,
      );
    }
    this.drainLater = AsyncResource.bind(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.options.concurrency || this.queue.length === 0) {
      return;
    }
    // After the current turn of the event loop, so that callers released together batch together
    // (or after the linger, for more of them).
    this.scheduled = true;
    if (this.lingerMs === 0) setImmediate(this.drainLater);
    else setTimeout(this.drainLater, this.lingerMs);
  }

  private drain(): void {
    while (this.running < this.options.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        this.schedule();
      });
    }
  }

  private async run(batch: Waiting<I, O>[]): Promise<void> {
    let outcomes: BatchOutcome<O>[];
    try {
      outcomes = await this.flush(batch.map((waiting) => waiting.item));
      if (outcomes.length !== batch.length) {
        throw new Error(`A batch of ${batch.length} answered ${outcomes.length} outcomes`);
      }
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    const again: Waiting<I, O>[] = [];
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index];
      switch (outcome.kind) {
        case 'value':
          waiting.resolve(outcome.value);
          break;
        case 'error':
          waiting.reject(outcome.error);
          break;
        case 'requeue':
          again.push(waiting);
          break;
      }
    });
    // Ahead of later arrivals, keeping their order.
    this.queue.unshift(...again);
  }
}
