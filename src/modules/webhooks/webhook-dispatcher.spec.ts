import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { buildConfig, type AppConfig } from '../../config/configuration';
import { testIdentity } from '../saga/core/instance-identity.fixture';
import { SAGA_CHANGED } from '../saga/core/saga-changed.event';
import { WebhookDispatcher } from './webhook-dispatcher';
import type { ClaimedDelivery, WebhooksRepository } from './webhooks.repository';

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
    fanOut: jest.fn(() => Promise.resolve({ events: 0, deliveries: 0 })),
    claim: jest.fn((): Promise<ClaimedDelivery[]> => Promise.resolve([])),
    recordAttempt: jest.fn(() => Promise.resolve(undefined as unknown)),
    failingEndpoints: jest.fn(() => Promise.resolve(0)),
  };
  const bus = new EventEmitter2();
  const dispatcher = new WebhookDispatcher(
    repository as unknown as WebhooksRepository,
    testIdentity(),
    bus,
    new ConfigService<AppConfig, true>(config),
  );
  return { dispatcher, repository, bus };
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
    repository.fanOut.mockResolvedValue({ events: 3, deliveries: 2 });
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
    repository.recordAttempt
      .mockResolvedValueOnce(undefined)
      .mockResolvedValueOnce({ enabled: false, consecutiveFailures: 9 });
    dispatcher.onApplicationBootstrap();
    await settle();
    await settle();
    const calls = repository.recordAttempt.mock.calls as unknown as [
      string,
      ClaimedDelivery,
      { outcome: string },
      number | undefined,
    ][];
    expect(calls[0][2].outcome).toBe('network_error');
    expect(calls[0][3]).toBeGreaterThanOrEqual(800);
    expect(calls[1][3]).toBeUndefined();
    const warnings = warn.mock.calls.map((call) => String(call[0]));
    expect(warnings.some((w) => w.includes('d2') && w.includes('failed for good'))).toBe(true);
    expect(warnings.some((w) => w.includes('endpoint e1 disabled'))).toBe(true);
    expect(warnings.join()).not.toContain('whsec_');
    await dispatcher.beforeApplicationShutdown();
  });

  it('survives a failed claim and a failed record', async () => {
    const { dispatcher, repository } = setup();
    repository.claim.mockRejectedValueOnce(new Error('claim refused'));
    dispatcher.onApplicationBootstrap();
    await settle();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('claim refused'));
    repository.claim.mockResolvedValueOnce([delivery]).mockResolvedValue([]);
    repository.recordAttempt.mockRejectedValueOnce(new Error('record refused'));
    dispatcher.wake();
    await settle();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('record refused'));
    await dispatcher.beforeApplicationShutdown();
  });
});
