import type { EventsConfig } from '../../config/configuration';

/** The kinds of notification a purchase raises. */
export type NotificationType = 'purchase_success' | 'purchase_failed';

/** The outside channels a notification is handed to (those of the integration events). */
export type Channel = 'jetstream' | 'webhooks';

/** The integration event that carries a notification to the channels. */
export const NOTIFICATION_REQUESTED = 'notification.requested';

/** Why a notification was not delivered, as recorded on its row. */
export const NO_CHANNEL = 'not delivered: no channel configured';
export const NO_SUBSCRIBER = `not delivered: no enabled webhook endpoint is subscribed to ${NOTIFICATION_REQUESTED}`;

export function webhooksGaveUp(lastError: string | null): string {
  return `not delivered: every webhook delivery failed${lastError === null ? '' : ` (last: ${lastError})`}`;
}

/** The channels configured: JetStream with NATS_URL, webhooks with WEBHOOKS_ENABLED. */
export function configuredChannels(events: Pick<EventsConfig, 'nats' | 'webhooks'>): Channel[] {
  const channels: Channel[] = [];
  if (events.nats !== undefined) channels.push('jetstream');
  if (events.webhooks.enabled) channels.push('webhooks');
  return channels;
}

/** The notification an integration event carries, if it is a notification.requested event. */
export function notificationIdOf(event: { type: string; data?: unknown }): string | undefined {
  if (event.type !== NOTIFICATION_REQUESTED) return undefined;
  const { data } = event;
  if (typeof data !== 'object' || data === null) return undefined;
  const id = (data as Record<string, unknown>).notificationId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}
