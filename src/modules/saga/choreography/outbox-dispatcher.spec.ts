import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AppConfig } from '../../../config/configuration';
import { OutboxDispatcher } from './outbox-dispatcher';
import type { OutboxRepository, OutboxRow } from './outbox.repository';
import type { SagaEventEnvelope } from './saga-events';

function row(id: string, eventType = 'Tested'): OutboxRow {
  return {
    id,
    event_id: `EVT_${id}`,
    event_type: eventType,
    aggregate_id: 'TXN_1',
    payload: { eventId: `EVT_${id}` } as SagaEventEnvelope,
    created_at: new Date(),
    dispatched: false,
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

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A dispatcher over a fake outbox recording each acknowledgement and what had run before it. */
function setup(markDispatched: (ids: string[]) => Promise<void> = () => Promise.resolve()) {
  const bus = new EventEmitter2();
  const handled: string[] = [];
  const acks: { ids: string[]; handledBefore: string[] }[] = [];
  const outbox = {
    markDispatched: jest.fn((ids: string[]) => {
      acks.push({ ids: [...ids], handledBefore: [...handled] });
      return markDispatched(ids);
    }),
    release: jest.fn(() => Promise.resolve()),
  };
  const config = {
    get: () => ({ outboxLeaseMs: 30_000, outboxPollMs: 1000 }),
  } as unknown as ConfigService<AppConfig, true>;
  const dispatcher = new OutboxDispatcher(outbox as unknown as OutboxRepository, bus, config);
  return { dispatcher, bus, outbox, handled, acks };
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

  it('acknowledges events published together with one UPDATE, after their handlers ran', async () => {
    const { dispatcher, bus, handled, acks } = setup();
    const handlersMayEnd = gate();
    listen(bus, 'Tested', async (event: SagaEventEnvelope) => {
      await handlersMayEnd.opened;
      handled.push(event.eventId);
    });
    dispatcher.publishSoon([row('1')]);
    dispatcher.publishSoon([row('2'), row('3')]);
    dispatcher.publishSoon([row('4')]);
    await turns(3);
    expect(acks).toEqual([]);

    handlersMayEnd.open();
    await dispatcher.beforeApplicationShutdown();
    expect(acks).toHaveLength(1);
    expect([...acks[0].ids].sort()).toEqual(['1', '2', '3', '4']);
    expect([...acks[0].handledBefore].sort()).toEqual(['EVT_1', 'EVT_2', 'EVT_3', 'EVT_4']);
  });

  it('never acknowledges an event whose handler is still running', async () => {
    const { dispatcher, bus, handled, acks } = setup();
    const slowMayEnd = gate();
    listen(bus, 'Tested', (event: SagaEventEnvelope) => handled.push(event.eventId));
    listen(bus, 'Slow', async (event: SagaEventEnvelope) => {
      await slowMayEnd.opened;
      handled.push(event.eventId);
    });
    dispatcher.publishSoon([row('1', 'Slow')]);
    dispatcher.publishSoon([row('2')]);
    await turns(5);
    expect(acks).toEqual([{ ids: ['2'], handledBefore: ['EVT_2'] }]);

    slowMayEnd.open();
    await dispatcher.beforeApplicationShutdown();
    expect(acks.map((ack) => ack.ids)).toEqual([['2'], ['1']]);
  });

  it('does not acknowledge an event whose handler failed, and releases it for a retry', async () => {
    const { dispatcher, bus, outbox, acks } = setup();
    listen(bus, 'Failing', () => Promise.reject(new Error('handler broke')));
    listen(bus, 'Tested', () => undefined);
    dispatcher.publishSoon([row('1'), row('2', 'Failing'), row('3')]);
    await dispatcher.beforeApplicationShutdown();
    expect(acks.map((ack) => ack.ids)).toEqual([['1']]);
    expect(outbox.release).toHaveBeenCalledWith(['2', '3'], 1000);
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

      expect(acks.map((ack) => ack.ids)).toEqual([['1', '2'], ['3']]);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0][0])).toContain(
        'Marking 2 outbox event(s) dispatched failed (connection reset)',
      );
      expect(error).not.toHaveBeenCalled();
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
    await turns(5);
    expect(written).toEqual(['1']);
    // The follow-up event, published after shutdown began, is still being handled.
    expect(down).toBe(false);

    followUpMayEnd.open();
    await shutdown;
    expect(written).toEqual(['1', '2']);
  });
});
