import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InfrastructureError } from '../../common/errors/domain-error';
import { buildConfig, type AppConfig } from '../../config/configuration';
import { NO_CHANNEL, NO_SUBSCRIBER } from './notification-delivery';
import type { NotificationsRepository } from './notifications.repository';
import { NotificationsService, type NotificationInput } from './notifications.service';
import { SimulatedNotificationFailure } from './simulated-failure';

const NATS = { NATS_URL: 'nats://127.0.0.1:4222' };
const WEBHOOKS = { WEBHOOKS_ENABLED: 'true' };

function serviceOf(env: Record<string, string>) {
  const config = new ConfigService<AppConfig, true>(buildConfig(env));
  const repository = {
    upsertMany: jest.fn((rows: { notificationId: string; channels: string[] }[]) =>
      Promise.resolve(
        (rows as unknown as Record<string, unknown>[]).map((row) => ({
          notification_id: row.notificationId,
          channels: row.channels,
          status: row.status,
          error: row.error,
        })),
      ),
    ),
    markDelivered: jest.fn(() => Promise.resolve([])),
    markFailed: jest.fn(() => Promise.resolve([])),
  };
  const service = new NotificationsService(
    repository as unknown as NotificationsRepository,
    new SimulatedNotificationFailure(config),
    config,
  );
  return { service, repository };
}

const input = (transactionId: string): NotificationInput => ({
  transactionId,
  userId: 'user-1',
  type: 'purchase_success',
  message: 'Purchase of 1 x item completed',
});

describe('NotificationsService', () => {
  let warn: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  it('with no channel: records notifications failed at once, and warns once at start', async () => {
    const { service, repository } = serviceOf({});
    service.onModuleInit();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(
      /recorded but not delivered.*NATS_URL.*WEBHOOKS_ENABLED/,
    );
    const outcomes = await service.requestMany([input('T1'), input('T2')]);
    expect(repository.upsertMany).toHaveBeenCalledTimes(1);
    expect(outcomes).toEqual([
      {
        kind: 'value',
        value: expect.objectContaining({ status: 'failed', channels: [], error: NO_CHANNEL }),
      },
      {
        kind: 'value',
        value: expect.objectContaining({ status: 'failed', channels: [], error: NO_CHANNEL }),
      },
    ]);
  });

  it('with channels: records them pending, naming the channels; no warning', async () => {
    const { service } = serviceOf({ ...NATS, ...WEBHOOKS });
    service.onModuleInit();
    expect(warn).not.toHaveBeenCalled();
    const [outcome] = await service.requestMany([input('T1')]);
    expect(outcome).toEqual({
      kind: 'value',
      value: expect.objectContaining({
        status: 'pending',
        channels: ['jetstream', 'webhooks'],
        error: null,
      }),
    });
  });

  it('fails the attempts the simulated fault strikes, recording only the others', async () => {
    const { service, repository } = serviceOf({ ...NATS, NOTIFICATION_FAILURE_RATE: '1' });
    const outcomes = await service.requestMany([input('T1')]);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0].kind).toBe('error');
    expect(outcomes[0].kind === 'error' && outcomes[0].error).toBeInstanceOf(InfrastructureError);
    expect(repository.upsertMany).not.toHaveBeenCalled();
  });

  it('never fails a notification JetStream will still deliver', async () => {
    const { service, repository } = serviceOf({ ...NATS, ...WEBHOOKS });
    expect(service.failsWithWebhooks).toBe(false);
    expect(
      await service.recordUndeliverable([
        { notificationId: 'N1', lastError: 'HTTP 500', sent: true },
      ]),
    ).toEqual([]);
    expect(repository.markFailed).not.toHaveBeenCalled();
  });

  it('with webhooks alone: fails what no endpoint takes, and what every delivery failed', async () => {
    const { service, repository } = serviceOf(WEBHOOKS);
    expect(service.failsWithWebhooks).toBe(true);
    await service.recordUndeliverable([]);
    expect(repository.markFailed).not.toHaveBeenCalled();
    await service.recordUndeliverable([
      { notificationId: 'N1', lastError: null, sent: false },
      { notificationId: 'N3', lastError: 'HTTP 500', sent: true },
      { notificationId: 'N2', lastError: null, sent: false },
    ]);
    expect(repository.markFailed.mock.calls).toEqual([
      [['N1', 'N2'], NO_SUBSCRIBER],
      [['N3'], 'not delivered: every webhook delivery failed (last: HTTP 500)'],
    ]);
  });

  it('marks hand-offs delivered in one call, and makes none for nothing', async () => {
    const { service, repository } = serviceOf(WEBHOOKS);
    await service.recordHandedOff([]);
    expect(repository.markDelivered).not.toHaveBeenCalled();
    await service.recordHandedOff(['N1', 'N2']);
    expect(repository.markDelivered).toHaveBeenCalledWith(['N1', 'N2']);
  });
});
