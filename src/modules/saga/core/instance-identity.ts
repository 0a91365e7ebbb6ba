import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomBytes } from 'node:crypto';
import { ConfigError, type AppConfig, type InstanceConfig } from '../../../config/configuration';
import { errorMessage } from '../../../common/errors/error-message';
import { SessionConnection } from '../../../database/session-connection';

const LOCK_SCOPE = 'purchase-saga:instance';
/** Where an instance says it let go of its leases: the others claim them at once. */
const LEASES_RELEASED = 'purchase_saga_leases_released';

/**
 * Who this process is in the leases it takes, held for its whole life by an advisory lock on the
 * name (so two live processes never share one). A stable name (INSTANCE_ID, or host and port) is
 * how a restarted process knows that what is leased to that name was left by its own previous
 * run, now dead (`inheritsLeases`): recovery takes it back at start instead of waiting out the
 * leases. Instances tell each other here when they let go of their leases.
 */
@Injectable()
export class InstanceIdentity implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(InstanceIdentity.name);
  private readonly config: InstanceConfig;
  private readonly databaseUrl: string | undefined;
  private current: string;
  private session: SessionConnection | undefined;
  private stopping = false;
  private inherits = false;
  private closed = false;
  private readonly releasedListeners: (() => void)[] = [];
  /** Ends the pause between reopening tries at once (see reopen). */
  private wake: (() => void) | undefined;
  private reopening: Promise<void> | undefined;

  constructor(config: ConfigService<AppConfig, true>) {
    this.config = config.get('instance', { infer: true });
    this.databaseUrl = config.get('database', { infer: true }).url;
    this.current = this.config.id;
  }

  /** The lease owner this process writes. */
  get id(): string {
    return this.current;
  }

  /**
   * This process runs under its stable name, so what is leased to that name was left by its own
   * previous run: ours to take back at start.
   */
  get inheritsLeases(): boolean {
    return this.inherits;
  }

  /** True from the start of shutdown: no new purchase, no next step or event here. */
  get draining(): boolean {
    return this.stopping;
  }

  async onModuleInit(): Promise<void> {
    const session = await this.connectSession();
    try {
      await this.takeName(session);
      await this.listen(session);
    } catch (error) {
      await session.close();
      throw error;
    }
    this.session = session;
  }

  /** Calls `listener` whenever another instance lets go of its leases. */
  onLeasesReleased(listener: () => void): void {
    this.releasedListeners.push(listener);
  }

  /** The start of shutdown (see draining). */
  startDraining(): void {
    this.stopping = true;
  }

  /** Tells the other instances that this one let go of its leases: they claim them now. */
  async announceReleased(): Promise<void> {
    await this.session
      ?.notify(LEASES_RELEASED, this.current)
      .catch((error: unknown) =>
        this.logger.warn(`Telling the other instances failed: ${errorMessage(error)}`),
      );
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.reopening;
    await this.session?.close();
  }

  /**
   * Takes this instance's name: its own (then what its previous run left is taken back), or,
   * held by a live process, a fresh one; with INSTANCE_ID set, that stops the start instead.
   */
  private async takeName(session: SessionConnection): Promise<void> {
    if (await session.tryLock(LOCK_SCOPE, this.current)) {
      this.inherits = true;
      return;
    }
    if (this.config.explicit) {
      throw new ConfigError(
        'INSTANCE_ID',
        `"${this.current}" is held by another running process on this database; give each instance its own`,
      );
    }
    const fresh = `${this.current}:${randomBytes(3).toString('hex')}`;
    this.logger.warn(
      `Instance name ${this.current} is held by another running process on this database; running as ${fresh}`,
    );
    this.current = fresh;
    if (!(await session.tryLock(LOCK_SCOPE, fresh))) {
      throw new Error(`Could not take the instance name ${fresh}`);
    }
  }

  /** A connected session, not yet this instance's: only `this.session` reports its loss. */
  private async connectSession(): Promise<SessionConnection> {
    if (this.databaseUrl === undefined) throw new Error('The database URL was not resolved');
    const session: SessionConnection = new SessionConnection(this.databaseUrl, (error) =>
      this.sessionLost(session, error),
    );
    try {
      await session.connect();
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  private async listen(session: SessionConnection): Promise<void> {
    await session.listen(LEASES_RELEASED, (from) => {
      if (from === this.current) return;
      for (const listener of this.releasedListeners) listener();
    });
  }

  /**
   * The session went away (the server restarted, the network was cut), and its lock and LISTEN
   * with it: they are taken again, with a growing pause between tries, until shutdown.
   */
  private sessionLost(session: SessionConnection, error: Error): void {
    if (this.session !== session || this.closed) return;
    this.logger.warn(
      `The instance's own database session failed (${errorMessage(error)}); opening it again`,
    );
    this.session = undefined;
    void session.close();
    this.reopening = this.reopen().finally(() => {
      this.reopening = undefined;
    });
  }

  private async reopen(): Promise<void> {
    for (let pauseMs = 200; ; pauseMs = Math.min(pauseMs * 2, 10_000)) {
      await this.pause(pauseMs);
      if (this.closed) return;
      let session: SessionConnection | undefined;
      try {
        session = await this.connectSession();
        if (!(await session.tryLock(LOCK_SCOPE, this.current))) {
          // Only a process started while the session was down can hold it: its restart would
          // take back this instance's sagas (fenced, never applied twice).
          this.logger.error(
            `Instance name ${this.current} was taken by another process while this one's session was down; give each instance its own`,
          );
        }
        await this.listen(session);
      } catch (failure) {
        this.logger.warn(`Opening the instance's own session failed: ${errorMessage(failure)}`);
        await session?.close();
        continue;
      }
      if (this.closed) {
        await session.close();
        return;
      }
      this.session = session;
      this.logger.log(`The instance's own database session is open again`);
      return;
    }
  }

  /** Waits `ms`, or less when shutdown starts meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    }).finally(() => {
      this.wake = undefined;
    });
  }
}
