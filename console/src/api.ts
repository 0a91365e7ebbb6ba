/** The admin API the console reads and acts through; every call carries the tab's token. */

const TOKEN_KEY = 'saga-console-token';

export type SagaStatus =
  'pending' | 'in_progress' | 'completed' | 'compensating' | 'compensated' | 'failed';

export interface SagaError {
  step: string | null;
  code: string;
  message: string;
}

export interface SagaSummary {
  transactionId: string;
  status: SagaStatus;
  pattern: string;
  userId: string;
  itemId: string;
  quantity: number;
  price: number | null;
  currentStep: string | null;
  error: SagaError | null;
  createdAt: string;
  completedAt: string | null;
  failedAt: string | null;
}

export interface SagaPage {
  data: SagaSummary[];
  /** Exact up to 10,000 matches; beyond, the database's estimate (`totalEstimated`). */
  total: number;
  totalEstimated: boolean;
  page: number;
  limit: number;
  totalPages: number;
  nextCursor: string | null;
}

export interface StepRun {
  step: string;
  status: string;
  data: Record<string, unknown> | null;
  executedAt: string;
  duration?: number;
  error?: { code: string; message: string };
}

export interface SagaView {
  transactionId: string;
  status: SagaStatus;
  pattern: string;
  /** The saga definition and version the saga runs. */
  definition: { name: string; version: number };
  currentStep: string | null;
  purchaseData: { userId: string; itemId: string; quantity: number; price: number | null };
  steps: StepRun[];
  compensations: StepRun[];
  startedAt: string;
  completedAt?: string;
  failedAt?: string;
  error?: SagaError;
  /** The OpenTelemetry trace of the purchase, when tracing sampled it. */
  traceId?: string;
  /** The notification's delivery to the outside, once the notification step recorded it. */
  notification?: NotificationState;
}

export interface NotificationState {
  notificationId: string;
  status: 'pending' | 'delivered' | 'failed';
  channels: string[];
  deliveredAt: string | null;
  error: string | null;
}

export interface OutboxEvent {
  eventId: string;
  eventType: string;
  causationId: string | null;
  occurredAt: string;
  dispatched: boolean;
  data: Record<string, unknown>;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  transactionId: string | null;
  reason: string;
  outcome: 'succeeded' | 'failed' | 'refused';
  errorCode: string | null;
  detail: string | null;
}

export interface UserProfile {
  userId: string;
  name: string;
  balance: number;
  status: string;
  purchaseLimit: number;
  inventory: { itemId: string; name: string; quantity: number }[];
}

export interface Item {
  itemId: string;
  name: string;
  price: number;
  stock: number;
  isAvailable: boolean;
}

export interface SagaDetail {
  saga: SagaView;
  events: OutboxEvent[];
  user: UserProfile | null;
  item: Item | null;
  audit: AuditEntry[];
  /** This instance drives the saga's definition version (else it cannot act on it). */
  definitionDriven: boolean;
}

export interface OverviewPoint {
  at: string;
  seconds: number;
  finished: { completed: number; compensated: number; failed: number };
  perSecond: number;
  p50Ms: number | null;
  p95Ms: number | null;
  compensationRate: number | null;
}

export interface Overview {
  scope: string;
  sampleSeconds: number;
  windowSeconds: number;
  points: OverviewPoint[];
  window: Omit<OverviewPoint, 'at'>;
  generatedAt: string;
}

/** GET /admin/saga-versions: what this instance drives, and the open sagas per version. */
export interface SagaVersions {
  registered: {
    name: string;
    version: number;
    hash: string;
    current: boolean;
    steps: { name: string; pivot: boolean; compensable: boolean }[];
  }[];
  open: { name: string; version: number; open: number; registered: boolean }[];
}

export interface DefinitionRef {
  name: string;
  version: number;
}

export interface VersionMoveResult {
  success: boolean;
  message: string;
  moved: number;
  from: DefinitionRef;
  to: DefinitionRef & { hash: string };
  audit: AuditEntry;
}

export interface Session {
  name: string;
  readOnly: boolean;
}

export interface ActionResult {
  success: boolean;
  message: string;
  saga: SagaView;
  audit: AuditEntry;
}

/** A webhook endpoint as GET /admin/webhooks shows it (never its secret). */
export interface Webhook {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  /** Why it is disabled: by an admin, or failing for too long. */
  disabledReason: string | null;
  /** Since when its attempts fail without a success in between; null: healthy. */
  failingSince: string | null;
  consecutiveFailures: number;
  createdAt: string;
  updatedAt: string;
}

/** An endpoint with its signing secret: answered on creation and rotation only. */
export interface WebhookWithSecret extends Webhook {
  secret: string;
}

export interface WebhookList {
  /** WEBHOOKS_ENABLED: false, endpoints are kept but nothing is sent. */
  enabled: boolean;
  eventTypes: string[];
  webhooks: Webhook[];
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryAttempt {
  attemptedAt: string;
  statusCode: number | null;
  latencyMs: number;
  responseExcerpt: string | null;
  error: string | null;
}

export interface Delivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  /** When the next attempt is due (pending deliveries only). */
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
  /** The latest attempts (up to 20), oldest first. */
  attemptLog: DeliveryAttempt[];
}

export interface SinkStatus {
  name: string;
  connected: boolean;
  /** Why not, when it is not. */
  reason?: string;
}

/** GET /admin/relay: the integration events' relay to the broker. */
export interface RelayState {
  enabled: boolean;
  sinks: SinkStatus[];
  backlog: number;
  /** Age of the oldest unpublished event. */
  lagSeconds: number;
  /** Events this instance has had acknowledged since it started. */
  published: number;
}

/** An answer other than 2xx, with the service's errorCode and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

async function call<T>(
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<T> {
  const token = options.token ?? storedToken() ?? '';
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    cache: 'no-store',
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body ?? {}) as { errorCode?: unknown; message?: unknown };
    throw new ApiError(
      response.status,
      typeof error.errorCode === 'string' ? error.errorCode : 'HTTP_' + String(response.status),
      typeof error.message === 'string' ? error.message : response.statusText,
    );
  }
  return body as T;
}

export const api = {
  session: (token?: string) => call<Session>('GET', '/admin/session', { token }),
  sagas: (query: URLSearchParams) => call<SagaPage>('GET', `/admin/sagas?${query.toString()}`),
  saga: (id: string) => call<SagaDetail>('GET', `/admin/sagas/${encodeURIComponent(id)}`),
  compensate: (id: string, reason: string) =>
    call<ActionResult>('POST', `/admin/sagas/${encodeURIComponent(id)}/compensate`, {
      body: { reason },
    }),
  audit: (before?: string) =>
    call<{ data: AuditEntry[]; nextBefore: string | null }>(
      'GET',
      `/admin/audit?limit=50${before === undefined ? '' : `&before=${encodeURIComponent(before)}`}`,
    ),
  overview: () => call<Overview>('GET', '/admin/overview'),
  sagaVersions: () => call<SagaVersions>('GET', '/admin/saga-versions'),
  moveVersion: (body: { from: DefinitionRef; to: DefinitionRef; reason: string }) =>
    call<VersionMoveResult>('POST', '/admin/saga-versions/move', { body }),
  relay: () => call<RelayState>('GET', '/admin/relay'),
  webhooks: () => call<WebhookList>('GET', '/admin/webhooks'),
  webhook: (id: string) => call<Webhook>('GET', webhookPath(id)),
  createWebhook: (body: { url: string; events: string[]; description?: string }) =>
    call<WebhookWithSecret>('POST', '/admin/webhooks', { body }),
  updateWebhook: (id: string, body: { enabled: boolean }) =>
    call<Webhook>('PATCH', webhookPath(id), { body }),
  deleteWebhook: (id: string) => call<null>('DELETE', webhookPath(id)),
  rotateSecret: (id: string) => call<WebhookWithSecret>('POST', `${webhookPath(id)}/rotate-secret`),
  testWebhook: (id: string) =>
    call<{ deliveryId: string; eventId: string }>('POST', `${webhookPath(id)}/test`),
  deliveries: (id: string) =>
    call<{ deliveries: Delivery[] }>('GET', `${webhookPath(id)}/deliveries?limit=50`),
  resendFailed: (id: string) =>
    call<{ resent: number }>('POST', `${webhookPath(id)}/resend-failed`),
  resend: (deliveryId: string) =>
    call<{ id: string; webhookId: string; status: 'pending' }>(
      'POST',
      `/admin/webhook-deliveries/${encodeURIComponent(deliveryId)}/resend`,
    ),
};

function webhookPath(id: string): string {
  return `/admin/webhooks/${encodeURIComponent(id)}`;
}
