import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { SAGA_CHANGED, SAGA_SETTLED, type SagaChangedEvent } from './saga-changed.event';
import { SagaRepository } from './saga.repository';
import { SagaWaiters } from './saga-waiters';

function changed(transactionId: string, status: 'in_progress' | 'completed', version: number) {
  return { transactionId, status, version } as SagaChangedEvent;
}

describe('SagaWaiters', () => {
  let findStatus: jest.Mock;
  let waiters: SagaWaiters;

  beforeEach(() => {
    findStatus = jest.fn().mockResolvedValue({ status: 'in_progress', version: 1 });
    waiters = new SagaWaiters({ findStatus });
  });

  afterEach(() => jest.useRealTimers());

  it('on shutdown ends the waits in progress (false), and the later ones at once', async () => {
    const waiting = waiters.wait('TXN_1', 60_000, -1, false);
    const other = waiters.wait('TXN_2', 60_000);
    await new Promise((resolve) => setImmediate(resolve));

    waiters.releaseAll();

    await expect(waiting).resolves.toBe(false);
    await expect(other).resolves.toBe(false);
    await expect(waiters.wait('TXN_3', 60_000)).resolves.toBe(false);
  });

  it('answers at once for a saga the database already has settled', async () => {
    findStatus.mockResolvedValue({ status: 'completed', version: 4 });

    await expect(waiters.wait('TXN_1', 5_000)).resolves.toBe(true);
    expect(findStatus).toHaveBeenCalledWith('TXN_1');
  });

  it('is woken by a terminal change of its saga, not by other changes or sagas', async () => {
    const settled = waiters.wait('TXN_1', 5_000, -1, false);
    waiters.onSettled(changed('TXN_1', 'in_progress', 2));
    waiters.onSettled(changed('TXN_2', 'completed', 4));
    let done = false;
    void settled.then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);

    waiters.onSettled(changed('TXN_1', 'completed', 4));
    await expect(settled).resolves.toBe(true);
  });

  it('reads nothing before the saga can move when told so, then polls', async () => {
    jest.useFakeTimers();
    const settled = waiters.wait('TXN_1', 5_000, -1, false);
    await Promise.resolve();
    expect(findStatus).not.toHaveBeenCalled();

    findStatus.mockResolvedValue({ status: 'completed', version: 4 });
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(settled).resolves.toBe(true);
    expect(findStatus).toHaveBeenCalledTimes(1);
  });

  it('ignores a settled version not above the one it waits past, and gives up at its deadline', async () => {
    jest.useFakeTimers();
    findStatus.mockResolvedValue({ status: 'failed', version: 3 });
    const settled = waiters.wait('TXN_1', 1_500, 3);
    waiters.onSettled(changed('TXN_1', 'completed', 3));

    await jest.advanceTimersByTimeAsync(1_500);
    await expect(settled).resolves.toBe(false);
    // At once, after one poll interval, and at the deadline.
    expect(findStatus).toHaveBeenCalledTimes(3);
  });

  it('is woken on the bus once the terminal change settled, not by the change itself', async () => {
    @Module({
      imports: [EventEmitterModule.forRoot()],
      providers: [SagaWaiters, { provide: SagaRepository, useValue: { findStatus } }],
    })
    class WaitersModule {}
    const app = await NestFactory.createApplicationContext(WaitersModule, { logger: false });
    await app.init();
    try {
      const bus = app.get(EventEmitter2);
      let woken: boolean | undefined;
      const waiting = app
        .get(SagaWaiters)
        .wait('TXN_1', 5_000, -1, false)
        .then((result) => (woken = result));

      bus.emit(SAGA_CHANGED, changed('TXN_1', 'completed', 4));
      await new Promise((resolve) => setImmediate(resolve));
      expect(woken).toBeUndefined();

      bus.emit(SAGA_SETTLED, changed('TXN_1', 'completed', 4));
      await waiting;
      expect(woken).toBe(true);
      expect(findStatus).not.toHaveBeenCalled();
    } finally {
      await app.close();
    }
  });
});
