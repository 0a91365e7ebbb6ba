import { buildConfig } from '../../config/configuration';
import { configuredChannels, notificationIdOf, webhooksGaveUp } from './notification-delivery';

describe('notification delivery', () => {
  it('names the channels configured: none by default, JetStream with NATS_URL, webhooks', () => {
    const channels = (env: Record<string, string>) => configuredChannels(buildConfig(env).events);
    expect(channels({})).toEqual([]);
    expect(channels({ NATS_URL: 'nats://127.0.0.1:4222' })).toEqual(['jetstream']);
    expect(channels({ WEBHOOKS_ENABLED: 'true' })).toEqual(['webhooks']);
    expect(channels({ NATS_URL: 'nats://127.0.0.1:4222', WEBHOOKS_ENABLED: 'true' })).toEqual([
      'jetstream',
      'webhooks',
    ]);
  });

  it('finds the notification of a notification.requested event only', () => {
    expect(
      notificationIdOf({ type: 'notification.requested', data: { notificationId: 'NOTIF_1' } }),
    ).toBe('NOTIF_1');
    expect(
      notificationIdOf({ type: 'purchase.completed', data: { notificationId: 'NOTIF_1' } }),
    ).toBeUndefined();
    expect(notificationIdOf({ type: 'notification.requested', data: {} })).toBeUndefined();
    expect(notificationIdOf({ type: 'notification.requested', data: null })).toBeUndefined();
    expect(
      notificationIdOf({ type: 'notification.requested', data: { notificationId: 7 } }),
    ).toBeUndefined();
  });

  it('says why webhooks did not deliver, with the last error when known', () => {
    expect(webhooksGaveUp('HTTP 500')).toBe(
      'not delivered: every webhook delivery failed (last: HTTP 500)',
    );
    expect(webhooksGaveUp(null)).toBe('not delivered: every webhook delivery failed');
  });
});
