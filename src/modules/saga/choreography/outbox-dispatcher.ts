import {
  BeforeApplicationShutdown,
  Inject,
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
import { inMessageSpans } from '../../../common/tracing/messaging';
import { InstanceIdentity } from '../core/instance-identity';
import { OUTBOX_BACKLOG, OutboxBacklogEvent } from '../core/saga-changed.event';
import {
  OutboxRepository,
  type ClaimedEvent,
  type PendingBatch,
  type PendingEvent,
} from './outbox.repository';

/** Acknowledgements written by one DELETE at most (an id array parameter). */
const MAX_ACK_BATCH = 500;
/**
 * How long acknowledgements gather before they are written (ms). Each DELETE is a commit of its
 * own; nothing waits on it but shutdown, the sweep and the `dispatched` flag, and a lost one
 * only makes the sweep publish its events again, so under load they go out a few times a second
 * instead of once per step batch.
 */
export const ACK_LINGER_MS = 50;
/** Writes claimed by one sweep at most (each with the events of up to a step batch). */
const SWEEP_BATCHES = 10;

const isWhole = (event: ClaimedEvent): event is PendingEvent => event.payload !== undefined;

/** How far the publishing of one write's events has got. */
interface Progress {
  /** The events whose handlers have run, or failed. */
  settled: Set<string>;
  /** The events to retry: those that failed, and a saga's events after them. */
  left: string[];
}

/**
 * Publishes committed outbox events on the in-process bus, each saga's in order, and marks them
 * dispatched once their handlers have run. Events this process just wrote are published at once
 * (it holds their lease); a periodic sweep claims events whose lease expired — a writer that died
 * between commit and publish — so none is lost; it leaves the events of sagas of a definition
 * version this build lacks to an instance that has it. Handlers are idempotent, so an event
 * published twice (after a crash) changes nothing the second time. The events one statement
 * wrote share a pending row, deleted once all of them are handled (their publishers may be
 * several: a step batch's sagas each publish their own); deletes of concurrent writes share one
 * statement, one in flight at a time, taking every row queued behind it.
 */
@Injectable()
export class OutboxDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxDispatcher.name);
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly sweeper: PeriodicTask;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly acks: BatchQueue<string, void>;
  /**
   * Writes partly published. One whose events are not all published here (a publisher gave up)
   * is forgotten with them; its lease then runs out, and the sweep publishes it again.
   */
  private readonly progress = new WeakMap<PendingBatch, Progress>();

  constructor(
    @Inject(OutboxRepository)
    private readonly outbox: Pick<
      OutboxRepository,
      'claimStale' | 'countPending' | 'markDispatched' | 'release'
    >,
    private readonly bus: EventEmitter2,
    private readonly identity: InstanceIdentity,
    config: ConfigService<AppConfig, true>,
  ) {
    const saga = config.get('saga', { infer: true });
    this.leaseMs = saga.outboxLeaseMs;
    this.pollMs = saga.outboxPollMs;
    this.sweeper = new PeriodicTask(() => this.sweepAll(), this.pollMs);
    this.acks = new BatchQueue((ids) => this.markDispatched(ids), {
      maxBatch: MAX_ACK_BATCH,
      concurrency: 1,
      lingerMs: ACK_LINGER_MS,
    });
  }

  get leaseOwner(): string {
    return this.identity.id;
  }

  get leaseDurationMs(): number {
    return this.leaseMs;
  }

  onApplicationBootstrap(): void {
    this.sweeper.start();
    this.identity.onLeasesReleased(() => this.sweeper.runSoon());
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.drain();
  }

  /**
   * Stops the sweep and waits for the publishing in progress; while the instance drains, no
   * further event is published here (its write stays leased here until the hand-over).
   */
  async drain(): Promise<void> {
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

  /** Claims and publishes events left behind; returns how many were handled. */
  private async sweepAll(): Promise<number> {
    try {
      let total = 0;
      for (;;) {
        const rows = await this.outbox.claimStale(this.identity.id, this.leaseMs, SWEEP_BATCHES);
        if (rows.length === 0) {
          const backlog: OutboxBacklogEvent = { pending: await this.outbox.countPending() };
          this.bus.emit(OUTBOX_BACKLOG, backlog);
          return total;
        }
        this.logger.warn(`Re-publishing ${rows.length} outbox event(s) left behind`);
        const orphans = rows.filter((row) => !isWhole(row)).length;
        if (orphans > 0) {
          this.logger.error(
            `${orphans} outbox event(s) name a saga that has no row; nothing can handle them, and they are marked dispatched`,
          );
        }
        total += await this.publish(rows, true);
      }
    } catch (error) {
      this.logger.error(`Outbox sweep failed: ${String(error)}`);
      return 0;
    }
  }

  /**
   * Publishes events, a saga's one after the other and different sagas' side by side; resolves
   * once the writes whose last events these were are acknowledged. Returns how many were handled.
   */
  private async publish(rows: ClaimedEvent[], redelivered = false): Promise<number> {
    const sagas = new Map<string, PendingEvent[]>();
    for (const row of rows) {
      // An event whose saga has no row: every participant would find nothing to act on.
      if (!isWhole(row)) continue;
      const events = sagas.get(row.payload.transactionId);
      if (events === undefined) sagas.set(row.payload.transactionId, [row]);
      else events.push(row);
    }
    const left = new Set(
      (
        await Promise.all(
          [...sagas.values()].map((events) => this.publishInOrder(events, redelivered)),
        )
      ).flat(),
    );
    await Promise.all(this.settle(rows, left));
    return rows.length - left.size;
  }

  /** One saga's events in order; answers those not handled: the first that failed, and after. */
  private async publishInOrder(
    events: PendingEvent[],
    redelivered: boolean,
  ): Promise<PendingEvent[]> {
    for (const [index, event] of events.entries()) {
      // Shutting down: what is left goes to another instance with this write's lease.
      if (this.identity.draining) return events.slice(index);
      try {
        await this.deliver(event, redelivered);
      } catch (error) {
        const left = events.slice(index);
        this.logger.warn(
          `Event handling failed (${String(error)}); ${left.length} event(s) will be retried`,
        );
        return left;
      }
    }
    return [];
  }

  /**
   * Runs an event's handlers; with the trace it was written in (tracing on), inside its publish
   * and process spans, so that the participant's step continues that trace.
   */
  private deliver(event: PendingEvent, redelivered: boolean): Promise<unknown> {
    const traceParent = event.payload.traceparent;
    const handle = () => this.bus.emitAsync(event.event_type, event.payload);
    if (traceParent === undefined) return handle();
    return inMessageSpans(
      {
        system: 'saga-outbox',
        destination: event.event_type,
        id: event.payload.eventId,
        traceParent,
        redelivered,
      },
      handle,
    );
  }

  /**
   * Counts the events against their writes; a write whose events have all been through is
   * acknowledged, or, when some were not handled, left pending with those alone.
   */
  private settle(rows: ClaimedEvent[], left: ReadonlySet<ClaimedEvent>): Promise<void>[] {
    const done: Promise<void>[] = [];
    for (const row of rows) {
      let progress = this.progress.get(row.batch);
      if (progress === undefined) {
        progress = { settled: new Set(), left: [] };
        this.progress.set(row.batch, progress);
      }
      progress.settled.add(row.id);
      if (left.has(row)) progress.left.push(row.id);
      if (progress.settled.size < row.batch.size) continue;
      this.progress.delete(row.batch);
      // Left leased here: the hand-over lets go of it for another instance at once.
      if (progress.left.length > 0 && this.identity.draining) continue;
      done.push(
        progress.left.length === 0
          ? this.acks.submit(row.batch.id)
          : this.outbox
              .release(row.batch.id, progress.left, this.pollMs)
              .catch((error: unknown) =>
                this.logger.warn(
                  `Releasing ${progress.left.length} outbox event(s) failed (${errorMessage(error)}); they wait for their lease`,
                ),
              ),
      );
    }
    return done;
  }

  /**
   * A failed acknowledgement leaves its rows pending: once their lease expires the sweep
   * publishes them again, which the idempotent handlers ignore.
   */
  private async markDispatched(batchIds: string[]): Promise<BatchOutcome<void>[]> {
    try {
      await this.outbox.markDispatched(batchIds);
    } catch (error) {
      this.logger.warn(
        `Marking the events of ${batchIds.length} outbox write(s) dispatched failed (${errorMessage(error)}); they will be published again`,
      );
    }
    return batchIds.map(() => ({ kind: 'value', value: undefined }));
  }
}
