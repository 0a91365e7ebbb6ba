import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { buildConfig, type AppConfig, type EventsConfig } from '../../config/configuration';
import type { TransactionHost } from '../../database/transaction-host';
import type { DeliveryChange, NotificationsService } from '../notifications/notifications.service';
import { testIdentity } from '../saga/core/instance-identity.fixture';
import { SAGA_CHANGED, type SagaChangedEvent } from '../saga/core/saga-changed.event';
import { EventRelay } from './event-relay';
import type { EventSink, SinkStatus } from './event-sink';
import type { EventStream } from './event-stream';
import type { IntegrationEventType, RelayedEvent, StreamCursor } from './integration-event';
import type { IntegrationEventsRepository } from './integration-events.repository';

function event(seq: number, saga: string, type: IntegrationEventType): RelayedEvent {
  return {
    seq: String(seq),
    traceParent: null,
    body: {
      id: `id-${seq}`,
      type,
      occurredAt: new Date(0).toISOString(),
      transactionId: saga,
      data: {
        userId: 'u',
        itemId: 'i',
        quantity: 1,
        total: 1,
        status: 'completed',
        pattern: 'orchestration',
        ...(type === 'notification.requested' ? { notificationId: `N-${seq}` } : {}),
      },
    },
  };
}

/** A sink that records what it took, in order, and fails the ids it is told to. */
class FakeSink implements EventSink {
  readonly name = 'fake';
  readonly taken: string[] = [];
  readonly failing = new Set<string>();
  connected = true;
  started = 0;
  stopped = 0;
  /** Acknowledgements still outstanding: a later wave must not start before they settle. */
  inFlight = 0;
  maxInFlight = 0;

  start(): void {
    this.started++;
  }
  stop(): Promise<void> {
    this.stopped++;
    return Promise.resolve();
  }
  status(): SinkStatus {
    return this.connected
      ? { name: this.name, connected: true }
      : { name: this.name, connected: false, reason: 'down' };
  }
  async publish(relayed: RelayedEvent): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    this.inFlight--;
    if (this.failing.has(relayed.body.id)) throw new Error(`refused ${relayed.body.id}`);
    this.taken.push(relayed.body.id);
  }
}

function relayOf(batches: RelayedEvent[][], enabled = true, relayBatch = 10) {
  /** Each batch's cursor move: from where it was read to where it got. */
  const moves: { from: StreamCursor; to: StreamCursor }[] = [];
  const reads: number[] = [];
  const at = (event: RelayedEvent): StreamCursor => ({ tx: '500', seq: event.seq });
  const repository = {
    lease: jest.fn((): Promise<StreamCursor | undefined> =>
      Promise.resolve({ tx: '500', seq: '0' }),
    ),
    advance: jest.fn((_owner: string, from: StreamCursor, to: StreamCursor) => {
      moves.push({ from, to });
      return Promise.resolve(true);
    }),
    release: jest.fn(() => Promise.resolve()),
    backlog: jest.fn(() => Promise.resolve({ backlog: 3, lagSeconds: 1.5 })),
  };
  const stream = {
    read: jest.fn((_cursor: StreamCursor, limit: number) => {
      reads.push(limit);
      return Promise.resolve(
        (batches.shift() ?? []).map((event) => ({ cursor: at(event), event })),
      );
    }),
  };
  const events: EventsConfig = {
    enabled,
    relayBatch,
    relayPollMs: 60_000,
    relayLeaseMs: 10_000,
    webhooks: buildConfig({}).events.webhooks,
  };
  const config = new ConfigService<AppConfig, true>({ events });
  const sink = new FakeSink();
  const bus = new EventEmitter2();
  const notifications = {
    recordHandedOff: jest.fn((_ids: readonly string[]): Promise<DeliveryChange[]> =>
      Promise.resolve([]),
    ),
  };
  const tx = { run: <T>(work: () => Promise<T>) => work() };
  const relay = new EventRelay(
    repository as unknown as IntegrationEventsRepository,
    stream as unknown as EventStream,
    notifications as unknown as NotificationsService,
    tx as unknown as TransactionHost,
    testIdentity(),
    bus,
    enabled ? [sink] : [],
    config,
  );
  return { relay, sink, moves, reads, repository, stream, bus, notifications };
}

/** Lets the relay's background run go as far as it can. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('EventRelay', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  it('publishes a batch in waves: every saga side by side, a saga its events in order', async () => {
    const batch = [
      event(1, 'A', 'notification.requested'),
      event(2, 'A', 'purchase.completed'),
      event(3, 'B', 'purchase.failed'),
      event(4, 'C', 'notification.requested'),
      event(5, 'C', 'purchase.completed'),
    ];
    const { relay, sink, moves, repository } = relayOf([batch]);
    relay.onApplicationBootstrap();
    await settle();
    await relay.beforeApplicationShutdown();
    // Wave one: the first event of A, B and C in flight together; then A's and C's second.
    expect(sink.taken.slice(0, 3).sort()).toEqual(['id-1', 'id-3', 'id-4']);
    expect(sink.taken.slice(3).sort()).toEqual(['id-2', 'id-5']);
    expect(sink.maxInFlight).toBe(3);
    expect(moves).toEqual([{ from: { tx: '500', seq: '0' }, to: { tx: '500', seq: '5' } }]);
    expect(sink.started).toBe(1);
    expect(sink.stopped).toBe(1);
    expect(repository.release).toHaveBeenCalledTimes(1);
  });

  it('holds back a saga after an event that failed, and lets the others through', async () => {
    const batch = [
      event(1, 'A', 'notification.requested'),
      event(2, 'A', 'purchase.completed'),
      event(3, 'B', 'purchase.compensated'),
    ];
    const { relay, sink, moves } = relayOf([batch]);
    sink.failing.add('id-1');
    relay.onApplicationBootstrap();
    await settle();
    await relay.beforeApplicationShutdown();
    expect(sink.taken).toEqual(['id-3']);
    // The cursor stays before the first event not published: the next round reads it again.
    expect(moves).toEqual([{ from: { tx: '500', seq: '0' }, to: { tx: '500', seq: '0' } }]);
  });

  it('marks the notifications JetStream took delivered, and tells the cache of their sagas', async () => {
    const batch = [
      event(1, 'A', 'notification.requested'),
      event(2, 'A', 'purchase.completed'),
      event(3, 'B', 'notification.requested'),
      event(4, 'B', 'purchase.completed'),
    ];
    const { relay, sink, notifications, bus } = relayOf([batch]);
    sink.failing.add('id-1');
    notifications.recordHandedOff.mockResolvedValueOnce([
      { transactionId: 'B', pattern: 'choreography', version: 7, revision: 1 },
    ]);
    const changed: SagaChangedEvent[] = [];
    bus.on(SAGA_CHANGED, (change: SagaChangedEvent) => changed.push(change));
    relay.onApplicationBootstrap();
    await settle();
    await relay.beforeApplicationShutdown();
    expect(notifications.recordHandedOff).toHaveBeenCalledTimes(1);
    expect(notifications.recordHandedOff).toHaveBeenCalledWith(['N-3']);
    expect(changed).toEqual([
      expect.objectContaining({
        transactionId: 'B',
        pattern: 'choreography',
        version: 7,
        notificationRevision: 1,
        previousStatus: 'completed',
        status: 'completed',
      }),
    ]);
  });

  it('reads on from its cursor while batches come back full, and stops at a short one', async () => {
    const { relay, sink, reads, stream } = relayOf(
      [[event(1, 'A', 'purchase.failed')], [event(2, 'B', 'purchase.failed')], []],
      true,
      1,
    );
    relay.onApplicationBootstrap();
    await settle();
    await relay.beforeApplicationShutdown();
    expect(sink.taken).toEqual(['id-1', 'id-2']);
    expect(reads).toEqual([1, 1, 1]);
    expect(stream.read.mock.calls.map((call) => call[0])).toEqual([
      { tx: '500', seq: '0' },
      { tx: '500', seq: '1' },
      { tx: '500', seq: '2' },
    ]);
  });

  it('reads nothing while another instance holds the cursor, and stops when it is taken over', async () => {
    const { relay, sink, repository, stream } = relayOf([
      [event(1, 'A', 'purchase.failed')],
      [event(2, 'B', 'purchase.failed')],
    ]);
    repository.lease.mockResolvedValueOnce(undefined);
    relay.onApplicationBootstrap();
    await settle();
    expect(stream.read).not.toHaveBeenCalled();
    repository.advance.mockResolvedValueOnce(false);
    await (relay as unknown as { relayAll(): Promise<void> }).relayAll();
    expect(sink.taken).toEqual(['id-1']);
    expect(Logger.prototype.warn).toHaveBeenCalledWith(expect.stringContaining('taken over'));
    // Taken again: from the cursor recorded, not the one this instance had in hand.
    repository.lease.mockResolvedValueOnce({ tx: '500', seq: '0' });
    await (relay as unknown as { relayAll(): Promise<void> }).relayAll();
    expect(stream.read.mock.calls.at(-1)?.[0]).toEqual({ tx: '500', seq: '0' });
    await relay.beforeApplicationShutdown();
  });

  it('reads nothing while a sink is not connected, and reports it', async () => {
    const { relay, sink, stream } = relayOf([[event(1, 'A', 'purchase.failed')]]);
    sink.connected = false;
    relay.onApplicationBootstrap();
    await settle();
    expect(stream.read).not.toHaveBeenCalled();
    expect(relay.sinkStatus()).toEqual([{ name: 'fake', connected: false, reason: 'down' }]);
    expect(await relay.state()).toEqual({
      enabled: true,
      sinks: [{ name: 'fake', connected: false, reason: 'down' }],
      backlog: 3,
      lagSeconds: 1.5,
      published: 0,
    });
    await relay.beforeApplicationShutdown();
  });

  it('is woken by a settling saga, once for a burst of them', async () => {
    jest.useFakeTimers();
    try {
      const { relay, bus, stream } = relayOf([]);
      relay.onApplicationBootstrap();
      await Promise.resolve();
      const calls = stream.read.mock.calls.length;
      const settled = { previousStatus: 'in_progress', status: 'completed', step: 'notification' };
      bus.emit(SAGA_CHANGED, settled);
      bus.emit(SAGA_CHANGED, settled);
      // A change that settles nothing does not wake it.
      bus.emit(SAGA_CHANGED, { previousStatus: 'pending', status: 'pending', step: null });
      await jest.advanceTimersByTimeAsync(250);
      expect(stream.read.mock.calls.length).toBe(calls + 1);
      await relay.beforeApplicationShutdown();
    } finally {
      jest.useRealTimers();
    }
  });

  it('logs a failing round and goes on at the next', async () => {
    const { relay, repository } = relayOf([]);
    repository.lease.mockRejectedValueOnce(new Error('database away'));
    relay.onApplicationBootstrap();
    await settle();
    expect(Logger.prototype.warn).toHaveBeenCalledWith(expect.stringContaining('database away'));
    await relay.beforeApplicationShutdown();
  });

  it('does nothing with no sink configured', async () => {
    const { relay, repository } = relayOf([], false);
    relay.onApplicationBootstrap();
    await settle();
    expect(repository.lease).not.toHaveBeenCalled();
    expect(relay.sinkStatus()).toBeUndefined();
    expect(await relay.state()).toEqual({
      enabled: false,
      sinks: [],
      backlog: 0,
      lagSeconds: 0,
      published: 0,
    });
    await relay.beforeApplicationShutdown();
  });
});
