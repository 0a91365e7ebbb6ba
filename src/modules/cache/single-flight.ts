/**
 * Concurrent callers asking for the same key share one running load, so a stampede of reads of
 * a missing entry reaches the database once per process.
 */
export class SingleFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, load: () => Promise<T>): Promise<T> {
    const running = this.running.get(key);
    if (running !== undefined) return running;
    const started = load();
    this.running.set(key, started);
    const done = () => {
      if (this.running.get(key) === started) this.running.delete(key);
    };
    started.then(done, done);
    return started;
  }

  /** Later callers start a fresh load (what is running may predate a change). */
  forget(key: string): void {
    this.running.delete(key);
  }

  get size(): number {
    return this.running.size;
  }
}
