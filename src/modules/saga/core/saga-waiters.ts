import { Inject, Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { SAGA_SETTLED, SagaChangedEvent } from './saga-changed.event';
import { SagaRepository } from './saga.repository';
import { isTerminal } from './saga';

// Sagas settled by this process wake their waiters at once; the poll only catches other instances.
const POLL_MS = 1000;

/**
 * Lets a request wait for a saga to settle, whichever pattern or process drives it: woken at once
 * by this process's own transitions (once their observers, the cache included, have run), and by
 * a slow poll for work done elsewhere.
 */
@Injectable()
export class SagaWaiters {
  private readonly waiting = new Map<string, Set<(version: number) => void>>();
  /** Set when this instance stops: no wait goes on after that. */
  private stopping = false;
  /** What ends each wait in progress when the instance stops. */
  private readonly stoppers = new Set<() => void>();

  constructor(@Inject(SagaRepository) private readonly sagas: Pick<SagaRepository, 'findStatus'>) {}

  @OnEvent(SAGA_SETTLED)
  onSettled(event: SagaChangedEvent): void {
    if (!isTerminal(event.status)) return;
    const wakers = this.waiting.get(event.transactionId);
    wakers?.forEach((wake) => wake(event.version));
  }

  /**
   * On shutdown, once this instance has let go of its sagas: every wait ends now (false), so that
   * the requests waiting are answered with their saga as it stands instead of waiting it out.
   */
  releaseAll(): void {
    this.stopping = true;
    this.stoppers.forEach((stop) => stop());
  }

  /**
   * True once the saga is terminal (at a version above `afterVersion`, for a saga being re-driven
   * out of a terminal status), false if `timeoutMs` passed first. `readFirst: false` is for a
   * caller that waits before the saga can move (before publishing the event that sets it going):
   * the database is then only read by the slow poll.
   */
  async wait(
    transactionId: string,
    timeoutMs: number,
    afterVersion = -1,
    readFirst = true,
  ): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let end: (why: 'woken' | 'stopped') => void = () => undefined;
    const ended = new Promise<'woken' | 'stopped'>((resolve) => (end = resolve));
    const wake = (version: number) => {
      if (version > afterVersion) end('woken');
    };
    const stop = () => end('stopped');
    const wakers = this.waiting.get(transactionId) ?? new Set();
    wakers.add(wake);
    this.waiting.set(transactionId, wakers);
    this.stoppers.add(stop);
    let timer: NodeJS.Timeout | undefined;
    try {
      for (let read = readFirst; ; read = true) {
        if (read) {
          const row = await this.sagas.findStatus(transactionId);
          if (row !== undefined && isTerminal(row.status) && row.version > afterVersion) {
            return true;
          }
        }
        const left = deadline - Date.now();
        if (left <= 0 || this.stopping) return false;
        const tick = new Promise<'tick'>(
          (resolve) => (timer = setTimeout(() => resolve('tick'), Math.min(left, POLL_MS))),
        );
        const why = await Promise.race([ended, tick]);
        if (why === 'woken') return true;
        if (why === 'stopped') return false;
      }
    } finally {
      clearTimeout(timer);
      this.stoppers.delete(stop);
      wakers.delete(wake);
      if (wakers.size === 0) this.waiting.delete(transactionId);
    }
  }
}
