import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { errorMessage } from '../../common/errors/error-message';
import { PeriodicTask } from '../../common/periodic-task';
import type { AppConfig, EventsConfig } from '../../config/configuration';
import { TransactionHost } from '../../database/transaction-host';
import { isTerminal } from '../saga/core/saga';
import {
  notificationDeliveryChanged,
  SAGA_CHANGED,
  type SagaChangedEvent,
} from '../saga/core/saga-changed.event';
import { notificationIdOf } from '../notifications/notification-delivery';
import { NotificationsService } from '../notifications/notifications.service';
import { InstanceIdentity } from '../saga/core/instance-identity';
import { EVENT_SINKS, type EventSink, type SinkStatus } from './event-sink';
import { EventStream } from './event-stream';
import type { RelayedEvent, StreamCursor } from './integration-event';
import { IntegrationEventsRepository, type RelayBacklog } from './integration-events.repository';
import { relayMetrics } from './relay-metrics';

/**
 * How long the relay lets settling sagas gather before it claims their events (ms): under load a
 * claim then takes many events at once instead of a few per round trip.
 */
const WAKE_LINGER_MS = 100;
/** The backlog figures are read again at most this often (ms). */
const BACKLOG_EVERY_MS = 2000;

/** The relay's state, for GET /admin/relay and /health. */
export interface RelayState {
  enabled: boolean;
  sinks: SinkStatus[];
  backlog: number;
  lagSeconds: number;
  /** Events this instance has had acknowledged since it started. */
  published: number;
}

/** What one batch gave: the events read, those published and those left for later. */
interface BatchOutcome {
  read: number;
  published: number;
  failed: number;
}

/**
 * Relays the integration events from PostgreSQL to the sinks. One instance at a time holds the
 * relay's cursor over the events' stream (a lease, renewed with each batch): it reads a batch,
 * publishes it with many in flight, and moves the cursor past it in one statement. A saga's
 * events go out in order: a batch is published in waves, the first event of every saga first,
 * and a saga's next event only once the previous one is acknowledged; a failure keeps its saga's
 * later events back, and the cursor stops before it. While a sink is unreachable nothing is
 * read: the events wait in the database, and purchases never wait for the relay.
 */
@Injectable()
export class EventRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(EventRelay.name);
  private readonly config: EventsConfig;
  private readonly task: PeriodicTask;
  private wakeTimer: NodeJS.Timeout | undefined;
  private lastBacklog: RelayBacklog = { backlog: 0, lagSeconds: 0 };
  private backlogReadAt = 0;
  private publishedHere = 0;
  private failing = false;
  private readonly active: boolean;
  /** The relay's cursor while this instance holds it. */
  private cursor: StreamCursor | undefined;

  constructor(
    private readonly events: IntegrationEventsRepository,
    private readonly stream: EventStream,
    private readonly notifications: NotificationsService,
    private readonly tx: TransactionHost,
    private readonly identity: InstanceIdentity,
    private readonly bus: EventEmitter2,
    @Inject(EVENT_SINKS) private readonly sinks: EventSink[],
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('events', { infer: true });
    this.task = new PeriodicTask(() => this.relayAll(), this.config.relayPollMs);
    // Webhooks keep their own progress (WebhookFanOut): the relay runs for the broker sinks only.
    this.active = this.config.enabled && this.sinks.length > 0;
  }

  onApplicationBootstrap(): void {
    if (!this.active) return;
    for (const sink of this.sinks) sink.start();
    // Woken as sagas settle here; other instances' events and leftovers wait for the poll.
    this.bus.on(SAGA_CHANGED, this.onChanged);
    this.task.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.active) return;
    this.bus.off(SAGA_CHANGED, this.onChanged);
    clearTimeout(this.wakeTimer);
    await this.task.stop();
    await Promise.all(this.sinks.map((sink) => sink.stop()));
    try {
      await this.events.release(this.identity.id);
    } catch (error) {
      this.logger.warn(`Letting the relay's cursor go failed: ${errorMessage(error)}`);
    }
  }

  /** The relay's state now (the backlog read fresh). */
  async state(): Promise<RelayState> {
    if (!this.active) {
      return { enabled: false, sinks: [], backlog: 0, lagSeconds: 0, published: 0 };
    }
    const backlog = await this.readBacklog(true);
    return {
      enabled: true,
      sinks: this.sinks.map((sink) => sink.status()),
      backlog: backlog.backlog,
      lagSeconds: backlog.lagSeconds,
      published: this.publishedHere,
    };
  }

  /** The sinks' status (no database), for /health; undefined when no sink is configured. */
  sinkStatus(): SinkStatus[] | undefined {
    return this.active ? this.sinks.map((sink) => sink.status()) : undefined;
  }

  private readonly onChanged = (event: SagaChangedEvent): void => {
    // Events are written when a saga settles (the notification step settles it too).
    if (!isTerminal(event.status)) return;
    if (this.wakeTimer !== undefined) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      // A round already going claims these too, or the next wake or poll does.
      void this.task.runOnce();
    }, WAKE_LINGER_MS);
  };

  /**
   * Publishes batch after batch until nothing is left or a sink is not ready, while this
   * instance holds the relay's cursor; never throws.
   */
  private async relayAll(): Promise<void> {
    try {
      for (;;) {
        const statuses = this.sinks.map((sink) => sink.status());
        for (const status of statuses) relayMetrics.connected(status.name, status.connected);
        if (this.identity.draining || !statuses.every((status) => status.connected)) break;
        const held = await this.events.lease(this.identity.id, this.config.relayLeaseMs);
        // Taken now: from the cursor recorded, whoever recorded it; held all along: the one in
        // hand (a batch may be recording it).
        this.cursor = held === undefined ? undefined : (this.cursor ?? held);
        if (this.cursor === undefined) break;
        const outcome = await this.relayBatch(this.cursor);
        if (outcome.failed > 0 || outcome.read < this.config.relayBatch) break;
      }
      await this.readBacklog(false);
    } catch (error) {
      this.logger.warn(`Relaying integration events failed: ${errorMessage(error)}`);
    }
  }

  /**
   * One batch from `from`: published in waves, then the cursor moved past the events published
   * without a gap before them, with the notifications handed off, in one transaction.
   */
  private async relayBatch(from: StreamCursor): Promise<BatchOutcome> {
    const read = await this.stream.read(from, this.config.relayBatch);
    if (read.length === 0) return { read: 0, published: 0, failed: 0 };
    const bySaga = new Map<string, RelayedEvent[]>();
    for (const { event } of read) {
      const list = bySaga.get(event.body.transactionId);
      if (list === undefined) bySaga.set(event.body.transactionId, [event]);
      else list.push(event);
    }
    const published = new Set<string>();
    let failed = 0;
    let lastError: unknown;
    let sagas = [...bySaga.values()];
    for (let wave = 0; sagas.length > 0; wave++) {
      const current = sagas.map((events) => events[wave]);
      const results = await Promise.allSettled(current.map((event) => this.publish(event)));
      const next: RelayedEvent[][] = [];
      results.forEach((result, at) => {
        if (result.status === 'fulfilled') {
          published.add(current[at].seq);
          if (sagas[at].length > wave + 1) next.push(sagas[at]);
        } else {
          failed++;
          lastError = result.reason;
        }
      });
      sagas = next;
    }
    // The cursor passes what was published up to the first event that was not: those after it
    // are published again next time (the stream drops the duplicates by id).
    let to = from;
    for (const entry of read) {
      if (!published.has(entry.event.seq)) break;
      to = entry.cursor;
    }
    // The notifications JetStream took are delivered, in the cursor's transaction.
    const handedOff = read
      .filter((entry) => published.has(entry.event.seq))
      .flatMap((entry) => notificationIdOf(entry.event.body) ?? []);
    const recorded = await this.tx.run(async () => {
      if (!(await this.events.advance(this.identity.id, from, to, this.config.relayLeaseMs))) {
        return undefined;
      }
      return this.notifications.recordHandedOff(handedOff);
    });
    if (recorded === undefined) {
      // Another instance holds the cursor now and publishes from where it found it.
      this.cursor = undefined;
      this.logger.warn("The relay's cursor was taken over by another instance");
      return { read: read.length, published: 0, failed: 0 };
    }
    this.cursor = to;
    await Promise.all(
      recorded.map((change) =>
        this.bus.emitAsync(SAGA_CHANGED, notificationDeliveryChanged(change)),
      ),
    );
    this.publishedHere += published.size;
    for (const sink of this.sinks) {
      relayMetrics.published(sink.name, published.size);
      if (failed > 0) relayMetrics.failed(sink.name, failed);
    }
    if (failed > 0 && !this.failing) {
      this.failing = true;
      this.logger.warn(
        `${failed} integration event(s) could not be published (${errorMessage(lastError)}); retried at the next poll`,
      );
    } else if (failed === 0 && this.failing) {
      this.failing = false;
      this.logger.log('Integration events are published again');
    }
    return { read: read.length, published: published.size, failed };
  }

  /** To every sink; done once all hold it. */
  private async publish(event: RelayedEvent): Promise<void> {
    await Promise.all(this.sinks.map((sink) => sink.publish(event)));
  }

  private async readBacklog(fresh: boolean): Promise<RelayBacklog> {
    const now = Date.now();
    if (!fresh && now - this.backlogReadAt < BACKLOG_EVERY_MS) return this.lastBacklog;
    this.backlogReadAt = now;
    this.lastBacklog = await this.events.backlog();
    relayMetrics.backlog(this.lastBacklog.backlog, this.lastBacklog.lagSeconds);
    return this.lastBacklog;
  }
}
