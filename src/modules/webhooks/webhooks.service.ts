import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../../common/errors/domain-error';
import type { AppConfig, WebhooksConfig } from '../../config/configuration';
import { INTEGRATION_EVENT_TYPES } from '../events/integration-event';
import { hostOf, isForbiddenAddress, resolveHost } from './address-policy';
import { WebhookDispatcher } from './webhook-dispatcher';
import { newWebhookSecret } from './webhook-signature';
import {
  WebhooksRepository,
  type DeliveryRow,
  type EndpointChanges,
  type EndpointRow,
} from './webhooks.repository';

/** The type of the synthetic event `POST /admin/webhooks/:id/test` sends. */
export const TEST_EVENT_TYPE = 'webhook.test';

/** An endpoint as the admin API shows it: never its secret. */
export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  /** Why it is disabled (by an admin, or failing for too long). */
  disabledReason: string | null;
  /** Since when its attempts fail without a success in between; null: healthy. */
  failingSince: string | null;
  consecutiveFailures: number;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint with its signing secret: answered on creation and rotation only. */
export interface WebhookWithSecret extends WebhookView {
  secret: string;
}

export interface DeliveryView {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: DeliveryRow['status'];
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
  /** The latest attempts (up to 20), oldest first. */
  attemptLog: {
    attemptedAt: string;
    statusCode: number | null;
    latencyMs: number;
    responseExcerpt: string | null;
    error: string | null;
  }[];
}

function view(row: EndpointRow): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since?.toISOString() ?? null,
    consecutiveFailures: row.consecutive_failures,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function deliveryView(row: DeliveryRow): DeliveryView {
  return {
    id: row.id,
    webhookId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at.toISOString() : null,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    attemptLog: row.attempt_log.map((attempt) => ({
      attemptedAt: new Date(attempt.attempted_at).toISOString(),
      statusCode: attempt.status_code,
      latencyMs: attempt.latency_ms,
      responseExcerpt: attempt.response_excerpt,
      error: attempt.error,
    })),
  };
}

/** The webhook endpoints' administration (GET|POST|PATCH|DELETE /admin/webhooks...). */
@Injectable()
export class WebhooksService {
  private readonly logger = new Logger(WebhooksService.name);
  private readonly config: WebhooksConfig;

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly dispatcher: WebhookDispatcher,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('events', { infer: true }).webhooks;
  }

  async create(url: string, events: string[], description?: string): Promise<WebhookWithSecret> {
    const types = this.checkTypes(events);
    await this.checkTarget(url);
    const row = await this.repository.createEndpoint(
      url,
      types,
      description ?? null,
      newWebhookSecret(),
    );
    this.logger.log(`Webhook endpoint ${row.id} registered for ${types.join(', ')}`);
    return { ...view(row), secret: row.secret };
  }

  async list(): Promise<WebhookView[]> {
    return (await this.repository.listEndpoints()).map(view);
  }

  /** Whether events are delivered at all (WEBHOOKS_ENABLED): off, endpoints are kept but idle. */
  get deliveriesEnabled(): boolean {
    return this.config.enabled;
  }

  async get(id: string): Promise<WebhookView> {
    return view(await this.endpoint(id));
  }

  async update(id: string, changes: EndpointChanges): Promise<WebhookView> {
    if (Object.values(changes).every((value) => value === undefined)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        'Give at least one of url, events, description, enabled',
      );
    }
    const events = changes.events === undefined ? undefined : this.checkTypes(changes.events);
    if (changes.url !== undefined) await this.checkTarget(changes.url);
    const row = await this.repository.updateEndpoint(id, { ...changes, events });
    if (row === undefined) throw this.notFound(id);
    if (changes.enabled === true) this.dispatcher.wake();
    return view(row);
  }

  async remove(id: string): Promise<void> {
    if (!(await this.repository.deleteEndpoint(id))) throw this.notFound(id);
    this.logger.log(`Webhook endpoint ${id} removed`);
  }

  async rotateSecret(id: string): Promise<WebhookWithSecret> {
    const row = await this.repository.rotateSecret(id, newWebhookSecret());
    if (row === undefined) throw this.notFound(id);
    this.logger.log(`Webhook endpoint ${id}: signing secret rotated`);
    return { ...view(row), secret: row.secret };
  }

  /** Queues a synthetic `webhook.test` event to the endpoint, sent the way events are. */
  async sendTest(id: string): Promise<{ deliveryId: string; eventId: string }> {
    this.requireEnabled();
    const endpoint = await this.endpoint(id);
    const eventId = randomUUID();
    const deliveryId = await this.repository.enqueue(endpoint.id, eventId, TEST_EVENT_TYPE, {
      id: eventId,
      type: TEST_EVENT_TYPE,
      occurredAt: new Date().toISOString(),
      data: { webhookId: endpoint.id },
    });
    this.dispatcher.wake();
    return { deliveryId, eventId };
  }

  async deliveries(id: string, limit: number, status?: string): Promise<DeliveryView[]> {
    await this.endpoint(id);
    return (await this.repository.listDeliveries(id, limit, status)).map(deliveryView);
  }

  async resend(deliveryId: string): Promise<{ id: string; webhookId: string; status: 'pending' }> {
    this.requireEnabled();
    const row = await this.repository.resend(deliveryId);
    if (row === undefined) {
      throw new DomainError(
        'WEBHOOK_DELIVERY_NOT_FOUND',
        `Webhook delivery ${deliveryId} not found`,
      );
    }
    this.dispatcher.wake();
    return { id: row.id, webhookId: row.endpoint_id, status: 'pending' };
  }

  async resendFailed(id: string): Promise<{ resent: number }> {
    this.requireEnabled();
    await this.endpoint(id);
    const resent = await this.repository.resendFailed(id);
    this.dispatcher.wake();
    return { resent };
  }

  private async endpoint(id: string): Promise<EndpointRow> {
    const row = await this.repository.findEndpoint(id);
    if (row === undefined) throw this.notFound(id);
    return row;
  }

  private notFound(id: string): DomainError {
    return new DomainError('WEBHOOK_NOT_FOUND', `Webhook ${id} not found`);
  }

  private requireEnabled(): void {
    if (!this.config.enabled) {
      throw new DomainError(
        'WEBHOOKS_DISABLED',
        'Webhooks are off on this service (WEBHOOKS_ENABLED=false): nothing would be sent',
      );
    }
  }

  /** The types once each, all of the integration event vocabulary. */
  private checkTypes(events: string[]): string[] {
    const known = new Set<string>(INTEGRATION_EVENT_TYPES);
    const unknown = events.filter((type) => !known.has(type));
    if (unknown.length > 0) {
      throw new DomainError('UNKNOWN_EVENT_TYPE', `Unknown event type(s): ${unknown.join(', ')}`, {
        unknown,
        known: INTEGRATION_EVENT_TYPES,
      });
    }
    return [...new Set(events)];
  }

  /** Refuses a target that resolves to a loopback, private or link-local address (SSRF). */
  private async checkTarget(url: string): Promise<void> {
    if (this.config.allowPrivateUrls) return;
    const host = hostOf(new URL(url));
    let addresses: string[];
    try {
      addresses = await resolveHost(host);
    } catch {
      throw new DomainError('WEBHOOK_URL_REFUSED', `The host ${host} does not resolve`);
    }
    if (addresses.some(isForbiddenAddress)) {
      throw new DomainError(
        'WEBHOOK_URL_REFUSED',
        `The host ${host} is a loopback, private or link-local address; webhooks may not reach it (WEBHOOK_ALLOW_PRIVATE_URLS)`,
      );
    }
  }
}
