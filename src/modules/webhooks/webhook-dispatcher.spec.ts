import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { buildConfig, type AppConfig } from '../../config/configuration';
import type { TransactionHost } from '../../database/transaction-host';
import type { RelayedEvent } from '../events/integration-event';
import type { DeliveryChange, NotificationsService } from '../notifications/notifications.service';
import { testIdentity } from '../saga/core/instance-identity.fixture';
import { SAGA_CHANGED, type SagaChangedEvent } from '../saga/core/saga-changed.event';
import { WebhookDispatcher } from './webhook-dispatcher';
import {
  streaks,
  type AttemptToRecord,
  type ClaimedDelivery,
  type EndpointHealth,
  type FirstAttempt,
  type LeasedStream,
  type WebhooksRepository,
} from './webhooks.repository';
import type { EventStream } from '../events/event-stream';
import type { StreamCursor, StreamEvent } from '../events/integration-event';

const settle = () => new Promise((resolve) => setTimeout(resolve, 80));
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
// Nothing listens there: an attempt fails at once.
const NOWHERE = 'http://127.0.0.1:9/';

type Health = (EndpointHealth & { endpointId: string })[];

function setup(env: Record<string, string> = {}, failsWithWebhooks = false) {
  const config = buildConfig({
    WEBHOOKS_ENABLED: 'true',
    WEBHOOK_POLL_MS: '600000',
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_TIMEOUT_MS: '200',
    ...env,
  });
  const repository = {
    leaseStreams: jest.fn((): Promise<LeasedStream[]> => Promise.resolve([])),
    releaseStreams: jest.fn(() => Promise.resolve()),
    read: jest.fn((_cursor: StreamCursor, _limit: number): Promise<StreamEvent[]> =>
      Promise.resolve([]),
    ),
    recordStream: jest.fn(
      (
        _owner: string,
        _endpointId: string,
        _cursor: { from: StreamCursor; to: StreamCursor },
        _leaseMs: number,
        _attempts: FirstAttempt[],
      ): Promise<boolean> => Promise.resolve(true),
    ),
    recordHealth: jest.fn((): Promise<Health> => Promise.resolve([])),
    claim: jest.fn(
      (_owner: string, _leaseMs: number, _rooms: Map<string, number>): Promise<ClaimedDelivery[]> =>
        Promise.resolve([]),
    ),
    recordAttempts: jest.fn((_owner: string, _attempts: AttemptToRecord[]): Promise<Health> =>
      Promise.resolve([]),
    ),
    undeliverableNotifications: jest.fn(() =>
      Promise.resolve([{ notificationId: 'N9', lastError: null, sent: false }]),
    ),
    failingEndpoints: jest.fn(() => Promise.resolve(0)),
  };
  const noChange = (..._args: unknown[]): Promise<DeliveryChange[]> => Promise.resolve([]);
  const notifications = {
    failsWithWebhooks,
    recordHandedOff: jest.fn(noChange),
    recordUndeliverable: jest.fn(noChange),
  };
  const tx = { run: <T>(work: () => Promise<T>) => work() };
  const bus = new EventEmitter2();
  const dispatcher = new WebhookDispatcher(
    repository as unknown as WebhooksRepository,
    repository as unknown as EventStream,
    notifications as unknown as NotificationsService,
    tx as unknown as TransactionHost,
    testIdentity(),
    bus,
    new ConfigService<AppConfig, true>(config),
  );
  return { dispatcher, repository, bus, notifications };
}

function stream(url: string, events = ['purchase.completed', 'notification.requested']) {
  return {
    endpointId: 'e1',
    url,
    secret: SECRET,
    events,
    createdAt: new Date(Date.now() - 60_000),
    cursor: { tx: '100', seq: '7' },
  } satisfies LeasedStream;
}

function event(seq: number, type: string, data: Record<string, unknown> = {}): StreamEvent {
  const relayed = {
    seq: String(seq),
    traceParent: null,
    body: {
      id: `evt-${seq}`,
      type,
      occurredAt: new Date().toISOString(),
      transactionId: `T${seq}`,
      data: { userId: 'u', itemId: 'i', quantity: 1, total: 1, status: 'completed', ...data },
    },
  } as unknown as RelayedEvent;
  return { cursor: { tx: '101', seq: String(seq) }, event: relayed };
}

const delivery: ClaimedDelivery = {
  id: 'd1',
  endpointId: 'e1',
  eventId: 'evt',
  body: '{}',
  traceParent: null,
  attempts: 1,
  url: NOWHERE,
  secret: SECRET,
};

describe('WebhookDispatcher', () => {
  let warn: jest.SpyInstance;
  let log: jest.SpyInstance;
  let receiver: Server;
  let receiverUrl: string;
  const received: { id: string | undefined; body: string }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push({ id: req.headers['webhook-id'] as string | undefined, body });
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  });

  afterAll(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });

  beforeEach(() => {
    received.length = 0;
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
    expect(repository.leaseStreams).not.toHaveBeenCalled();
    expect(repository.claim).not.toHaveBeenCalled();
    expect(repository.releaseStreams).not.toHaveBeenCalled();
  });

  it('logs failing streams once, and once when they work again', async () => {
    const { dispatcher, repository } = setup();
    repository.leaseStreams.mockRejectedValue(new Error('database away'));
    dispatcher.onApplicationBootstrap();
    await settle();
    dispatcher.wake();
    await settle();
    expect(repository.leaseStreams).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toContain('database away');
    repository.leaseStreams.mockResolvedValue([]);
    dispatcher.wake();
    await settle();
    expect(log).toHaveBeenCalledWith('Webhook streams are read again');
    await dispatcher.beforeApplicationShutdown();
    expect(repository.releaseStreams).toHaveBeenCalledTimes(1);
  });

  it('sends the subscribed events of a batch, signed, and records them with the cursor past all', async () => {
    const { dispatcher, repository, notifications, bus } = setup();
    repository.leaseStreams.mockResolvedValue([stream(receiverUrl)]);
    repository.read
      .mockResolvedValueOnce([
        event(8, 'purchase.completed'),
        event(9, 'purchase.failed'),
        event(10, 'notification.requested', { notificationId: 'N1' }),
      ])
      .mockResolvedValue([]);
    notifications.recordHandedOff.mockResolvedValueOnce([
      { transactionId: 'T10', pattern: 'orchestration', version: 4, revision: 1 },
    ]);
    const changed: SagaChangedEvent[] = [];
    bus.on(SAGA_CHANGED, (change: SagaChangedEvent) => changed.push(change));
    dispatcher.onApplicationBootstrap();
    await settle();
    await dispatcher.beforeApplicationShutdown();
    // purchase.failed is not subscribed: passed over, not sent.
    expect(received.map((hit) => hit.id).sort()).toEqual(['evt-10', 'evt-8']);
    expect(JSON.parse(received.find((hit) => hit.id === 'evt-8')!.body)).toMatchObject({
      id: 'evt-8',
      type: 'purchase.completed',
      transactionId: 'T8',
    });
    expect(repository.read.mock.calls[0][0]).toEqual({ tx: '100', seq: '7' });
    const [owner, endpointId, cursor, , attempts] = repository.recordStream.mock.calls[0];
    expect(owner).toBe(testIdentity().id);
    expect(endpointId).toBe('e1');
    expect(cursor).toEqual({ from: { tx: '100', seq: '7' }, to: { tx: '101', seq: '10' } });
    expect(attempts.map((a) => [a.event.body.id, a.result.outcome, a.retryInMs])).toEqual([
      ['evt-8', 'delivered', undefined],
      ['evt-10', 'delivered', undefined],
    ]);
    expect(notifications.recordHandedOff).toHaveBeenCalledWith(['N1']);
    expect(changed).toEqual([
      expect.objectContaining({ transactionId: 'T10', version: 4, status: 'completed' }),
    ]);
    // The next read starts where the record left the cursor.
    expect(repository.read.mock.calls[1][0]).toEqual({ tx: '101', seq: '10' });
  });

  it('reads on as sagas settle, and stops a stream another instance took over', async () => {
    const { dispatcher, repository, bus } = setup();
    repository.leaseStreams.mockResolvedValue([stream(NOWHERE)]);
    dispatcher.onApplicationBootstrap();
    await settle();
    const reads = repository.read.mock.calls.length;
    bus.emit(SAGA_CHANGED, { status: 'running', previousStatus: 'pending' });
    await settle();
    expect(repository.read.mock.calls.length).toBe(reads);
    repository.read.mockResolvedValueOnce([event(8, 'purchase.completed')]);
    repository.recordStream.mockResolvedValueOnce(false);
    bus.emit(SAGA_CHANGED, { status: 'completed', previousStatus: 'running' });
    bus.emit(SAGA_CHANGED, { status: 'completed', previousStatus: 'running' });
    await settle();
    expect(repository.read.mock.calls.length).toBe(reads + 1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('taken over'));
    // Dropped: a settling saga no longer reads it (the next lease decides).
    bus.emit(SAGA_CHANGED, { status: 'completed', previousStatus: 'running' });
    await settle();
    expect(repository.read.mock.calls.length).toBe(reads + 1);
    await dispatcher.beforeApplicationShutdown();
  });

  it('records a failed first attempt with the wait before its retry', async () => {
    const { dispatcher, repository } = setup({ WEBHOOK_RETRY_SCHEDULE: '1s' });
    repository.leaseStreams.mockResolvedValue([stream(NOWHERE)]);
    repository.read.mockResolvedValueOnce([event(8, 'purchase.completed')]);
    dispatcher.onApplicationBootstrap();
    await settle();
    await dispatcher.beforeApplicationShutdown();
    const [attempt] = repository.recordStream.mock.calls[0][4];
    expect(attempt.result.outcome).toBe('network_error');
    expect(attempt.retryInMs).toBeGreaterThanOrEqual(800);
    expect(attempt.retryInMs).toBeLessThanOrEqual(1200);
    expect(repository.recordHealth).toHaveBeenCalledWith(
      [{ endpointId: 'e1', result: attempt.result }],
      expect.any(Number),
    );
  });

  it('claims retries only for the streams it holds, logs one failed for good and a disabled endpoint', async () => {
    const { dispatcher, repository } = setup({
      WEBHOOK_RETRY_SCHEDULE: '1s',
      WEBHOOK_ENDPOINT_CONCURRENCY: '3',
    });
    repository.leaseStreams.mockResolvedValue([stream(NOWHERE)]);
    repository.claim.mockImplementation((_owner, _lease, rooms) =>
      Promise.resolve(rooms.size > 0 && repository.claim.mock.calls.length < 3 ? [delivery] : []),
    );
    repository.recordAttempts.mockResolvedValue([
      { endpointId: 'e1', enabled: false, consecutiveFailures: 9 },
    ]);
    dispatcher.onApplicationBootstrap();
    await settle();
    dispatcher.wake();
    await settle();
    await dispatcher.beforeApplicationShutdown();
    const rooms = repository.claim.mock.calls.map((call) => [...call[2].entries()]);
    expect(rooms).toContainEqual([['e1', 3]]);
    const recorded = repository.recordAttempts.mock.calls.flatMap((call) => call[1]);
    expect(recorded[0].result.outcome).toBe('network_error');
    // Its second attempt of a one-retry schedule: failed for good.
    expect(recorded[0].retryInMs).toBeUndefined();
    const warnings = warn.mock.calls.map((call) => String(call[0]));
    expect(warnings.some((w) => w.includes('d1') && w.includes('failed for good'))).toBe(true);
    expect(warnings.some((w) => w.includes('endpoint e1 disabled'))).toBe(true);
    expect(warnings.join()).not.toContain('whsec_');
  });

  it('survives a failed claim and a failed record', async () => {
    const { dispatcher, repository } = setup();
    repository.leaseStreams.mockResolvedValue([stream(NOWHERE)]);
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

  it('records the retried attempts that ended together in one batch', async () => {
    const { dispatcher, repository } = setup({ WEBHOOK_ENDPOINT_CONCURRENCY: '8' });
    repository.leaseStreams.mockResolvedValue([stream(NOWHERE)]);
    const five = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ ...delivery, id }));
    repository.claim.mockResolvedValueOnce([]).mockResolvedValueOnce(five).mockResolvedValue([]);
    dispatcher.onApplicationBootstrap();
    await settle();
    dispatcher.wake();
    await settle();
    await dispatcher.beforeApplicationShutdown();
    const batches = repository.recordAttempts.mock.calls.map((call) => call[1].length);
    expect(batches.reduce((a, b) => a + b, 0)).toBe(5);
    expect(batches.length).toBeLessThan(5);
  });

  it('fails the notifications no webhook will deliver, when the webhooks alone deliver them', async () => {
    const alone = setup({}, true);
    alone.dispatcher.onApplicationBootstrap();
    await settle();
    await alone.dispatcher.beforeApplicationShutdown();
    expect(alone.notifications.recordUndeliverable).toHaveBeenCalledWith([
      { notificationId: 'N9', lastError: null, sent: false },
    ]);
    const withBroker = setup({}, false);
    withBroker.dispatcher.onApplicationBootstrap();
    await settle();
    await withBroker.dispatcher.beforeApplicationShutdown();
    expect(withBroker.repository.undeliverableNotifications).not.toHaveBeenCalled();
  });
});

describe('streaks', () => {
  const attempt = (endpointId: string, outcome: 'delivered' | 'http_error') => ({
    endpointId,
    result: { outcome },
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
