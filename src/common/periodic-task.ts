/**
 * Runs `task` now and then every `everyMs`, never two runs at once; `stop` waits for the run in
 * progress. The timer does not keep the process alive.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private again = false;

  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.runOnce(), this.everyMs);
    this.timer.unref();
    void this.runOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** One run now, unless one is already going (its promise then) or the task was stopped. */
  runOnce(): Promise<unknown> {
    if (this.stopped) return Promise.resolve();
    this.running ??= this.task().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.runOnce();
      }
    });
    return this.running;
  }

  /**
   * A run as soon as possible: now, or right after the one going (which may have looked before
   * what it is asked for now was there).
   */
  runSoon(): void {
    if (this.running !== undefined) this.again = true;
    else void this.runOnce();
  }
}
