import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AppConfig } from '../../../config/configuration';
import { BatchQueue, type BatchOutcome } from '../../../common/batch-queue';
import { errorMessage } from '../../../common/errors/error-message';
import { PeriodicTask } from '../../../common/periodic-task';
import { INSTANCE_ID } from '../engine/instance-id';
import { OUTBOX_BACKLOG, OutboxBacklogEvent } from '../saga-changed.event';
import { OutboxRepository, PendingEvent } from './outbox.repository';

/** Acknowledgements written by one UPDATE at most (an id array parameter). */
const MAX_ACK_BATCH = 500;

/**
 * Publishes committed outbox events on the in-process bus, in order, and marks them dispatched
 * once their handlers have run. Events this process just wrote are published at once (it holds
 * their lease); a periodic sweep claims events whose lease expired — a writer that died between
 * commit and publish — so none is lost. Handlers are idempotent, so an event published twice
 * (after a crash) changes nothing the second time. Acknowledgements of concurrent publishes
 * share one UPDATE: one statement in flight at a time, taking every id queued behind it.
 */
@Injectable()
export class OutboxDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxDispatcher.name);
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly sweeper: PeriodicTask;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly acks: BatchQueue<string, void>;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly bus: EventEmitter2,
    config: ConfigService<AppConfig, true>,
  ) {
    const saga = config.get('saga', { infer: true });
    this.leaseMs = saga.outboxLeaseMs;
    this.pollMs = saga.outboxPollMs;
    this.sweeper = new PeriodicTask(() => this.sweepAll(), this.pollMs);
    this.acks = new BatchQueue((ids) => this.markDispatched(ids), {
      maxBatch: MAX_ACK_BATCH,
      concurrency: 1,
    });
  }

  get leaseOwner(): string {
    return INSTANCE_ID;
  }

  get leaseDurationMs(): number {
    return this.leaseMs;
  }

  onApplicationBootstrap(): void {
    this.sweeper.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.sweeper.stop();
    // A publish returns once its acknowledgements are written; one may start another.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Publishes just-committed events without holding up the caller: once its current job is
   * done, not a turn of the event loop later (the handlers' steps queue for their batch then).
   */
  publishSoon(rows: PendingEvent[]): void {
    if (rows.length === 0) return;
    const run = Promise.resolve().then(() => this.publish(rows));
    this.inFlight.add(run);
    run
      .catch((error: unknown) =>
        this.logger.error(`Publishing outbox events failed: ${String(error)}`),
      )
      .finally(() => this.inFlight.delete(run));
  }

  /** Claims and publishes events left behind; returns how many were published. */
  private async sweepAll(): Promise<number> {
    try {
      let total = 0;
      for (;;) {
        const rows = await this.outbox.claimStale(INSTANCE_ID, this.leaseMs, 100);
        if (rows.length === 0) {
          const backlog: OutboxBacklogEvent = { pending: await this.outbox.countPending() };
          this.bus.emit(OUTBOX_BACKLOG, backlog);
          return total;
        }
        this.logger.warn(`Re-publishing ${rows.length} outbox event(s) left behind`);
        total += await this.publish(rows);
      }
    } catch (error) {
      this.logger.error(`Outbox sweep failed: ${String(error)}`);
      return 0;
    }
  }

  private async publish(rows: PendingEvent[]): Promise<number> {
    const done: string[] = [];
    try {
      for (const row of rows) {
        await this.bus.emitAsync(row.event_type, row.payload);
        done.push(row.id);
      }
    } catch (error) {
      const left = rows.filter((row) => !done.includes(row.id)).map((row) => row.id);
      this.logger.warn(
        `Event handling failed (${String(error)}); ${left.length} event(s) will be retried`,
      );
      await this.outbox.release(left, this.pollMs).catch(() => undefined);
    }
    await Promise.all(done.map((id) => this.acks.submit(id)));
    return done.length;
  }

  /**
   * A failed acknowledgement leaves its rows pending: once their lease expires the sweep
   * publishes them again, which the idempotent handlers ignore.
   */
  private async markDispatched(ids: string[]): Promise<BatchOutcome<void>[]> {
    try {
      await this.outbox.markDispatched(ids);
    } catch (error) {
      this.logger.warn(
        `Marking ${ids.length} outbox event(s) dispatched failed (${errorMessage(error)}); they will be published again`,
      );
    }
    return ids.map(() => ({ kind: 'value', value: undefined }));
  }
}
