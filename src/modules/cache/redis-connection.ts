import Redis, { type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  url: string;
  /** Prepended to every key the client's commands and scripts name. */
  keyPrefix: string;
  /** A command slower than this counts as failed (CACHE_TIMEOUT_MS). */
  timeoutMs: number;
  /** Lua scripts, each defined as a command of the client. */
  scripts: NonNullable<RedisOptions['scripts']>;
}

/**
 * A client for Redis as an optional helper of the service: commands fail at once while the
 * connection is down (nothing queues, nothing is resent: callers fall back at once), and it
 * reconnects by itself for ever, backing off to 2 s.
 */
export function connectRedis(options: RedisConnectionOptions): Redis {
  return new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    commandTimeout: options.timeoutMs,
    connectTimeout: Math.max(1000, options.timeoutMs * 10),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Commands issued in the same tick (every step's invalidation, concurrent reads) leave in
    // one socket write instead of one write each.
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    scripts: options.scripts,
  });
}

/** The URL without its credentials, for logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** A command's answer is due `at` (ms); `fail` rejects it once that has passed. */
interface Deadline {
  at: number;
  fail: (error: Error) => void;
}

/**
 * ioredis times a command from when its pipeline is written, and an auto-pipeline waits for the
 * one before it to be answered: against a frozen Redis that would double the wait. The caller's
 * deadline runs from the call instead. Deadlines come in call order, so one timer, set for the
 * oldest, serves them all.
 */
export class CommandDeadlines {
  /** Commands awaiting their answer, oldest first. */
  private readonly pending = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** `command`'s answer, or a rejection once `timeoutMs` has passed without one. */
  within<T>(command: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline: Deadline = { at: Date.now() + this.timeoutMs, fail: reject };
      this.pending.add(deadline);
      if (this.timer === undefined) this.arm(this.timeoutMs);
      command.then(
        (value) => {
          this.pending.delete(deadline);
          resolve(value);
        },
        (error: Error) => {
          this.pending.delete(deadline);
          reject(error);
        },
      );
    });
  }

  /** Stops the timer (on shutdown); commands still waiting are answered by the client. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.expire(), delayMs);
  }

  private expire(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const deadline of this.pending) {
      if (deadline.at > now) {
        this.arm(deadline.at - now);
        return;
      }
      this.pending.delete(deadline);
      deadline.fail(new Error('Command timed out'));
    }
  }
}
