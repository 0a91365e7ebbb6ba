import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AppConfig } from '../../../config/configuration';
import { testIdentity } from '../core/instance-identity.fixture';
import { ACK_LINGER_MS, OutboxDispatcher } from './outbox-dispatcher';
import type { ClaimedEvent, PendingBatch, PendingEvent } from './outbox.repository';
import type { SagaEventEnvelope } from './saga-events';

/** The pending row of a write of `size` events. */
function batch(id: string, size: number): PendingBatch {
  return { id, size };
}

/** An event of saga `saga`, pending in `of` (a write of its own by default). */
function row(
  id: string,
  eventType = 'Tested',
  of: PendingBatch = batch(`B${id}`, 1),
  saga = 'TXN_1',
): PendingEvent {
  return {
    id,
    event_type: eventType,
    payload: { eventId: `EVT_${id}`, transactionId: saga } as SagaEventEnvelope,
    batch: of,
  };
}

/** A promise the test settles when it chooses. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * Subscribes as an @OnEvent handler does: emitAsync waits for the promise a listener returns,
 * though eventemitter2 types listeners as returning void.
 */
function listen(
  bus: EventEmitter2,
  event: string,
  handler: (event: SagaEventEnvelope) => unknown,
): void {
  bus.on(event, handler as Parameters<EventEmitter2['on']>[1]);
}

/** A 'Tested' handler that ends at once, and a 'Slow' one that ends once the gate returned opens. */
function fastAndSlow(bus: EventEmitter2, handled: string[]) {
  const slowMayEnd = gate();
  listen(bus, 'Tested', (event: SagaEventEnvelope) => handled.push(event.eventId));
  listen(bus, 'Slow', async (event: SagaEventEnvelope) => {
    await slowMayEnd.opened;
    handled.push(event.eventId);
  });
  return slowMayEnd;
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Long enough for acknowledgements due now to be written (they gather for ACK_LINGER_MS). */
async function acksWritten(): Promise<void> {
  await turns(5);
  await sleep(ACK_LINGER_MS + 20);
  await turns(5);
}

/**
 * A dispatcher over a fake outbox recording each acknowledgement and what had run before it; its
 * sweep claims `left` once.
 */
function setup(
  markDispatched: (ids: string[]) => Promise<void> = () => Promise.resolve(),
  left: ClaimedEvent[] = [],
) {
  const bus = new EventEmitter2();
  const handled: string[] = [];
  const acks: { ids: string[]; handledBefore: string[] }[] = [];
  const outbox = {
    markDispatched: jest.fn((ids: string[]) => {
      acks.push({ ids: [...ids], handledBefore: [...handled] });
      return markDispatched(ids);
    }),
    release: jest.fn(() => Promise.resolve()),
    claimStale: jest.fn(() => Promise.resolve(left.splice(0))),
    countPending: jest.fn(() => Promise.resolve(0)),
  };
  const config = new ConfigService<AppConfig, true>({
    saga: { outboxLeaseMs: 30_000, outboxPollMs: 1000 },
  });
  const identity = testIdentity();
  const dispatcher = new OutboxDispatcher(outbox, bus, identity, config);
  return { dispatcher, bus, outbox, handled, acks, identity };
}

describe('OutboxDispatcher acknowledgements', () => {
  let warn: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => warn.mockRestore());

  it("publishes just-committed events once the caller's job is done, not a loop turn later", async () => {
    const { dispatcher, bus } = setup();
    const started: string[] = [];
    listen(bus, 'Tested', (event: SagaEventEnvelope) => {
      started.push(event.eventId);
      return Promise.resolve();
    });

    dispatcher.publishSoon([row('1')]);
    expect(started).toEqual([]);
    await Promise.resolve();

    // The handler started within the same turn of the event loop.
    expect(started).toEqual(['EVT_1']);
    await turns(3);
  });

  it('publishes nothing more once the instance drains: the rest stays leased here for the hand-over', async () => {
    const { dispatcher, bus, outbox, handled, acks, identity } = setup();
    listen(bus, 'Tested', (event: SagaEventEnvelope) => {
      handled.push(event.eventId);
      // The shutdown starts while the saga's first event is being handled.
      identity.startDraining();
      return Promise.resolve();
    });
    const pair = batch('B9', 2);
    dispatcher.publishSoon([row('1', 'Tested', pair), row('2', 'Tested', pair)]);
    await dispatcher.drain();
    dispatcher.publishSoon([row('3')]);
    await acksWritten();

    expect(handled).toEqual(['EVT_1']);
    expect(acks).toEqual([]);
    expect(outbox.release).not.toHaveBeenCalled();
  });

  it('acknowledges the writes of events published together with one DELETE, after their handlers ran', async () => {
    const { dispatcher, bus, handled, acks } = setup();
    const handlersMayEnd = gate();
    listen(bus, 'Tested', async (event: SagaEventEnvelope) => {
      await handlersMayEnd.opened;
      handled.push(event.eventId);
    });
    const pair = batch('B2', 2);
    dispatcher.publishSoon([row('1')]);
    dispatcher.publishSoon([row('2', 'Tested', pair), row('3', 'Tested', pair)]);
    dispatcher.publishSoon([row('4')]);
    await turns(3);
    expect(acks).toEqual([]);

    handlersMayEnd.open();
    await dispatcher.beforeApplicationShutdown();
    expect(acks).toHaveLength(1);
    expect([...acks[0].ids].sort()).toEqual(['B1', 'B2', 'B4']);
    expect([...acks[0].handledBefore].sort()).toEqual(['EVT_1', 'EVT_2', 'EVT_3', 'EVT_4']);
  });

  it('gathers the acknowledgements of writes finished within ACK_LINGER_MS into one DELETE', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { dispatcher, bus, handled, acks } = setup();
      listen(bus, 'Tested', (event: SagaEventEnvelope) => handled.push(event.eventId));
      dispatcher.publishSoon([row('1')]);
      await turns(3);
      jest.advanceTimersByTime(ACK_LINGER_MS - 1);
      dispatcher.publishSoon([row('2')]);
      await turns(3);
      expect(handled).toEqual(['EVT_1', 'EVT_2']);
      expect(acks).toEqual([]);
      jest.advanceTimersByTime(1);
      expect(acks.map((ack) => ack.ids)).toEqual([['B1', 'B2']]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('acknowledges a write published in parts (one per saga) once, after its last event', async () => {
    const { dispatcher, bus, handled, acks } = setup();
    const slowMayEnd = fastAndSlow(bus, handled);
    const write = batch('B1', 3);
    dispatcher.publishSoon([row('1', 'Tested', write, 'TXN_1')]);
    dispatcher.publishSoon([row('2', 'Slow', write, 'TXN_2')]);
    dispatcher.publishSoon([row('3', 'Tested', write, 'TXN_3')]);
    await turns(5);
    // Two of its three events are handled: the write stays pending.
    expect([...handled].sort()).toEqual(['EVT_1', 'EVT_3']);
    expect(acks).toEqual([]);

    slowMayEnd.open();
    await dispatcher.beforeApplicationShutdown();
    expect(acks).toHaveLength(1);
    expect(acks[0].ids).toEqual(['B1']);
    expect([...acks[0].handledBefore].sort()).toEqual(['EVT_1', 'EVT_2', 'EVT_3']);
  });

  it("publishes a saga's events in order, and different sagas' side by side", async () => {
    const { dispatcher, bus } = setup();
    const firstMayEnd = gate();
    const started: string[] = [];
    listen(bus, 'Slow', async (event: SagaEventEnvelope) => {
      started.push(event.eventId);
      await firstMayEnd.opened;
    });
    listen(bus, 'Tested', (event: SagaEventEnvelope) => started.push(event.eventId));
    const write = batch('B1', 3);
    dispatcher.publishSoon([
      row('1', 'Slow', write, 'TXN_1'),
      row('2', 'Tested', write, 'TXN_1'),
      row('3', 'Tested', write, 'TXN_2'),
    ]);
    await turns(3);
    // TXN_2 did not wait for TXN_1; TXN_1's second event waits for its first.
    expect(started).toEqual(['EVT_1', 'EVT_3']);

    firstMayEnd.open();
    await dispatcher.beforeApplicationShutdown();
    expect(started).toEqual(['EVT_1', 'EVT_3', 'EVT_2']);
  });

  it('never acknowledges an event whose handler is still running', async () => {
    const { dispatcher, bus, handled, acks } = setup();
    const slowMayEnd = fastAndSlow(bus, handled);
    dispatcher.publishSoon([row('1', 'Slow')]);
    dispatcher.publishSoon([row('2')]);
    await acksWritten();
    expect(acks).toEqual([{ ids: ['B2'], handledBefore: ['EVT_2'] }]);

    slowMayEnd.open();
    await dispatcher.beforeApplicationShutdown();
    expect(acks.map((ack) => ack.ids)).toEqual([['B2'], ['B1']]);
  });

  it("does not acknowledge a write with an event whose handler failed: it leaves that event and its saga's later ones pending, for a retry", async () => {
    const { dispatcher, bus, outbox, acks } = setup();
    listen(bus, 'Failing', () => Promise.reject(new Error('handler broke')));
    listen(bus, 'Tested', () => undefined);
    const write = batch('B1', 4);
    dispatcher.publishSoon([
      row('1', 'Tested', write, 'TXN_1'),
      row('2', 'Failing', write, 'TXN_1'),
      row('3', 'Tested', write, 'TXN_1'),
    ]);
    dispatcher.publishSoon([row('4', 'Tested', write, 'TXN_2')]);
    dispatcher.publishSoon([row('5')]);
    await dispatcher.beforeApplicationShutdown();
    expect(acks.map((ack) => ack.ids)).toEqual([['B5']]);
    expect(outbox.release).toHaveBeenCalledTimes(1);
    expect(outbox.release).toHaveBeenCalledWith('B1', ['2', '3'], 1000);
  });

  it('logs a failed acknowledgement and carries on: the rows stay pending for the sweep', async () => {
    let failNext = true;
    const { dispatcher, bus, acks } = setup(() => {
      if (!failNext) return Promise.resolve();
      failNext = false;
      return Promise.reject(new Error('connection reset'));
    });
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      listen(bus, 'Tested', () => undefined);
      dispatcher.publishSoon([row('1'), row('2')]);
      await dispatcher.beforeApplicationShutdown();
      dispatcher.publishSoon([row('3')]);
      await dispatcher.beforeApplicationShutdown();

      expect(acks.map((ack) => ack.ids)).toEqual([['B1', 'B2'], ['B3']]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain(
        'Marking the events of 2 outbox write(s) dispatched failed (connection reset)',
      );
      expect(error).not.toHaveBeenCalled();
    } finally {
      error.mockRestore();
    }
  });

  it('re-publishes events left behind, and acknowledges unpublished, with an error logged, those whose saga has no row', async () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const orphan: ClaimedEvent = { ...row('1'), payload: undefined };
      const { dispatcher, bus, handled, acks } = setup(undefined, [orphan, row('2')]);
      listen(bus, 'Tested', (event: SagaEventEnvelope) => handled.push(event.eventId));

      dispatcher.onApplicationBootstrap();
      await acksWritten();
      await dispatcher.beforeApplicationShutdown();
      expect(handled).toEqual(['EVT_2']);
      expect(acks).toEqual([{ ids: ['B1', 'B2'], handledBefore: ['EVT_2'] }]);
      expect(error).toHaveBeenCalledWith(expect.stringContaining('1 outbox event(s) name a saga'));
    } finally {
      error.mockRestore();
    }
  });

  it('on shutdown, waits for every acknowledgement, including those of follow-up events', async () => {
    const writeMayEnd = gate();
    const followUpMayEnd = gate();
    let written: string[] = [];
    const { dispatcher, bus } = setup(async (ids) => {
      await writeMayEnd.opened;
      written = [...written, ...ids];
    });
    listen(bus, 'First', () => dispatcher.publishSoon([row('2', 'Second')]));
    listen(bus, 'Second', () => followUpMayEnd.opened);
    dispatcher.publishSoon([row('1', 'First')]);

    let down = false;
    const shutdown = dispatcher.beforeApplicationShutdown().then(() => (down = true));
    await turns(5);
    expect(down).toBe(false);

    writeMayEnd.open();
    await acksWritten();
    expect(written).toEqual(['B1']);
    // The follow-up event, published after shutdown began, is still being handled.
    expect(down).toBe(false);

    followUpMayEnd.open();
    await shutdown;
    expect(written).toEqual(['B1', 'B2']);
  });
});
