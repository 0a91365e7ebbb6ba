/** Why a gate turned work away: its queue was full, or the work waited its longest. */
export type GateRefusal = 'queue-full' | 'waited-too-long';

export interface ConcurrencyGateOptions {
  /** Work running at once. */
  limit: number;
  /** Work waiting for a turn; beyond it, work is refused at once. */
  queue: number;
  /** The longest wait for a turn: then the work is refused instead (Infinity: waits on). */
  maxWaitMs: number;
  /** The error a refusal rejects with. */
  refuse(reason: GateRefusal): Error;
}

interface Waiter {
  admit(): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Lets at most `limit` pieces of work run at once; up to `queue` more wait for a turn, first come
 * first served, for at most `maxWaitMs`; the rest is refused at once. A turn ends when its work
 * settles, however it settles, and passes straight to the first waiter.
 */
export class ConcurrencyGate {
  private active = 0;
  private readonly waiters: Waiter[] = [];

  constructor(private readonly options: ConcurrencyGateOptions) {}

  /** Work running now. */
  get running(): number {
    return this.active;
  }

  /** Work waiting for a turn. */
  get waiting(): number {
    return this.waiters.length;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active < this.options.limit) {
      this.active += 1;
      return this.hold(work);
    }
    if (this.waiters.length >= this.options.queue) {
      return Promise.reject(this.options.refuse('queue-full'));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { admit: resolve, timer: undefined };
      if (Number.isFinite(this.options.maxWaitMs)) {
        waiter.timer = setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(this.options.refuse('waited-too-long'));
        }, this.options.maxWaitMs);
        waiter.timer.unref();
      }
      this.waiters.push(waiter);
    }).then(() => this.hold(work));
  }

  /** Runs work on a turn already counted in `active`, and passes the turn on once it settles. */
  private async hold<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } finally {
      const next = this.waiters.shift();
      if (next === undefined) {
        this.active -= 1;
      } else {
        clearTimeout(next.timer);
        next.admit();
      }
    }
  }
}
