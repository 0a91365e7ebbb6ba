import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { buildConfig, type AppConfig } from '../../config/configuration';
import type { TransactionHost } from '../../database/transaction-host';
import type { DeliveryChange, NotificationsService } from '../notifications/notifications.service';
import { testIdentity } from '../saga/core/instance-identity.fixture';
import { SAGA_CHANGED, type SagaChangedEvent } from '../saga/core/saga-changed.event';
import { WebhookDispatcher } from './webhook-dispatcher';
import {
  streaks,
  type AttemptToRecord,
  type ClaimedDelivery,
  type RecordedAttempts,
  type WebhooksRepository,
} from './webhooks.repository';

const settle = () => new Promise((resolve) => setTimeout(resolve, 60));

function setup(env: Record<string, string> = {}) {
  const config = buildConfig({
    WEBHOOKS_ENABLED: 'true',
    WEBHOOK_POLL_MS: '600000',
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_TIMEOUT_MS: '200',
    ...env,
  });
  const repository = {
    fanOut: jest.fn(() =>
      Promise.resolve({ events: 0, deliveries: 0, unsubscribedNotifications: [] as string[] }),
    ),
    claim: jest.fn((): Promise<ClaimedDelivery[]> => Promise.resolve([])),
    recordAttempts: jest.fn(
      (_owner: string, _attempts: AttemptToRecord[]): Promise<RecordedAttempts> =>
        Promise.resolve({ endpoints: [], eventsGaveUp: [] }),
    ),
    failingEndpoints: jest.fn(() => Promise.resolve(0)),
  };
  const noChange = (..._args: unknown[]): Promise<DeliveryChange[]> => Promise.resolve([]);
  const notifications = {
    recordUnsubscribed: jest.fn(noChange),
    recordHandedOff: jest.fn(noChange),
    recordWebhooksGaveUp: jest.fn(noChange),
    beforeWebhookOutcomes: jest.fn((_ids: string[]) => Promise.resolve()),
  };
  const tx = { run: <T>(work: () => Promise<T>) => work() };
  const bus = new EventEmitter2();
  const dispatcher = new WebhookDispatcher(
    repository as unknown as WebhooksRepository,
    notifications as unknown as NotificationsService,
    tx as unknown as TransactionHost,
    testIdentity(),
    bus,
    new ConfigService<AppConfig, true>(config),
  );
  return { dispatcher, repository, bus, notifications };
}

const delivery: ClaimedDelivery = {
  id: 'd1',
  endpointId: 'e1',
  eventId: 'evt',
  body: '{}',
  traceParent: null,
  attempts: 0,
  // Nothing listens there: the attempt fails at once.
  url: 'http://127.0.0.1:9/',
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
};

describe('WebhookDispatcher', () => {
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('does nothing while webhooks are off', async () => {
    const { dispatcher, repository } = setup({ WEBHOOKS_ENABLED: 'false' });
    dispatcher.onApplicationBootstrap();
    dispatcher.wake();
    await settle();
    await dispatcher.beforeApplicationShutdown();
    expect(repository.fanOut).not.toHaveBeenCalled();
    expect(repository.claim).not.toHaveBeenCalled();
  });

  it('logs a failing fan-out once, and once when it works again; wakes as sagas settle', async () => {
    const { dispatcher, repository, bus } = setup();
    repository.fanOut.mockRejectedValue(new Error('database away'));
    dispatcher.onApplicationBootstrap();
    await settle();
    bus.emit(SAGA_CHANGED, { status: 'running', previousStatus: 'pending' });
    bus.emit(SAGA_CHANGED, { status: 'completed', previousStatus: 'running' });
    bus.emit(SAGA_CHANGED, { status: 'completed', previousStatus: 'running' });
    await settle();
    expect(repository.fanOut).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenCalledTimes(1);
    repository.fanOut.mockResolvedValue({
      events: 3,
      deliveries: 2,
      unsubscribedNotifications: [],
    });
    bus.emit(SAGA_CHANGED, { status: 'failed', previousStatus: 'running' });
    await settle();
    expect(log).toHaveBeenCalledWith('Integration events are fanned out to the webhooks again');
    await dispatcher.beforeApplicationShutdown();
  });

  it('records a failed attempt with the next wait, logs a delivery failed for good and a disabled endpoint', async () => {
    const { dispatcher, repository } = setup({ WEBHOOK_RETRY_SCHEDULE: '1s' });
    repository.claim
      .mockResolvedValueOnce([delivery])
      .mockResolvedValueOnce([{ ...delivery, id: 'd2', attempts: 1 }])
      .mockResolvedValue([]);
    repository.recordAttempts
      .mockResolvedValueOnce({ endpoints: [], eventsGaveUp: [] })
      .mockResolvedValueOnce({
        endpoints: [{ endpointId: 'e1', enabled: false, consecutiveFailures: 9 }],
        eventsGaveUp: [],
      });
    dispatcher.onApplicationBootstrap();
    await settle();
    await settle();
    const recorded = repository.recordAttempts.mock.calls.flatMap((call) => call[1]);
    expect(recorded[0].result.outcome).toBe('network_error');
    expect(recorded[0].retryInMs).toBeGreaterThanOrEqual(800);
    expect(recorded[1].retryInMs).toBeUndefined();
    const warnings = warn.mock.calls.map((call) => String(call[0]));
    expect(warnings.some((w) => w.includes('d2') && w.includes('failed for good'))).toBe(true);
    expect(warnings.some((w) => w.includes('endpoint e1 disabled'))).toBe(true);
    expect(warnings.join()).not.toContain('whsec_');
    await dispatcher.beforeApplicationShutdown();
  });

  it('settles the notification a delivery carries with its attempt, and tells the cache', async () => {
    const { dispatcher, repository, notifications, bus } = setup();
    const carrying = { ...delivery, notificationId: 'N1' };
    repository.claim
      .mockResolvedValueOnce([carrying])
      .mockResolvedValueOnce([{ ...carrying, id: 'd2', notificationId: 'N2' }])
      .mockResolvedValue([]);
    // N1's event has no delivery left; N2's has (another endpoint's, still pending).
    repository.recordAttempts
      .mockResolvedValueOnce({ endpoints: [], eventsGaveUp: ['evt'] })
      .mockResolvedValueOnce({ endpoints: [], eventsGaveUp: [] });
    notifications.recordWebhooksGaveUp.mockResolvedValueOnce([
      { transactionId: 'T1', pattern: 'orchestration', version: 5 },
    ]);
    const changed: SagaChangedEvent[] = [];
    bus.on(SAGA_CHANGED, (change: SagaChangedEvent) => changed.push(change));
    dispatcher.onApplicationBootstrap();
    await settle();
    await settle();
    await dispatcher.beforeApplicationShutdown();
    expect(notifications.beforeWebhookOutcomes.mock.calls).toEqual([[['N1']], [['N2']]]);
    expect(notifications.recordWebhooksGaveUp).toHaveBeenCalledTimes(1);
    expect(notifications.recordWebhooksGaveUp.mock.calls[0][0]).toBe('N1');
    // Nothing was delivered: nothing handed off.
    expect(notifications.recordHandedOff.mock.calls.flatMap((call) => call[0] as string[])).toEqual(
      [],
    );
    expect(changed).toEqual([
      expect.objectContaining({ transactionId: 'T1', version: 5, status: 'completed' }),
    ]);
  });

  it('survives a failed claim and a failed record', async () => {
    const { dispatcher, repository } = setup();
    repository.claim.mockRejectedValueOnce(new Error('claim refused'));
    dispatcher.onApplicationBootstrap();
    await settle();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('claim refused'));
    repository.claim.mockResolvedValueOnce([delivery]).mockResolvedValue([]);
    repository.recordAttempts.mockRejectedValueOnce(new Error('record refused'));
    dispatcher.wake();
    await settle();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('record refused'));
    await dispatcher.beforeApplicationShutdown();
  });

  it('records the attempts that ended together in one batch', async () => {
    const { dispatcher, repository } = setup({ WEBHOOK_ENDPOINT_CONCURRENCY: '8' });
    const five = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ ...delivery, id }));
    repository.claim.mockResolvedValueOnce(five).mockResolvedValue([]);
    dispatcher.onApplicationBootstrap();
    await settle();
    await settle();
    await dispatcher.beforeApplicationShutdown();
    const batches = repository.recordAttempts.mock.calls.map((call) => call[1].length);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(5);
    expect(batches.length).toBeLessThan(5);
  });
});

describe('streaks', () => {
  const attempt = (endpointId: string, outcome: 'delivered' | 'http_error') => ({
    delivery: { ...delivery, endpointId },
    result: { outcome, statusCode: null, latencyMs: 1, excerpt: null, error: null },
  });

  it("counts each endpoint's failures after its last delivered attempt, in order", () => {
    expect(
      streaks([
        attempt('e1', 'http_error'),
        attempt('e2', 'http_error'),
        attempt('e1', 'delivered'),
        attempt('e1', 'http_error'),
        attempt('e2', 'http_error'),
        attempt('e3', 'delivered'),
      ]),
    ).toEqual([
      { id: 'e1', reset: true, failures: 1 },
      { id: 'e2', reset: false, failures: 2 },
      { id: 'e3', reset: true, failures: 0 },
    ]);
  });
});
