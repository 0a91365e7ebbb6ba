import { ServiceProcess, startService } from './support/service-process';
import { ADMIN, createTestDatabase, TestDatabase } from './support/test-app';
import { eventually } from './support/wait';

interface RequestLog {
  msg: string;
  level: number;
  reqId: string;
  service: string;
  responseTime: number;
  method: string;
  url: string;
  statusCode: number;
  remoteAddress: string;
}

/** The "request completed" lines the service printed so far (whole lines only). */
function requestLogs(service: ServiceProcess): RequestLog[] {
  const lines = service.output().split('\n');
  // The last piece is a line still being written, or empty.
  lines.pop();
  return lines
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as RequestLog)
    .filter((entry) => entry.msg === 'request completed');
}

describe('Request logs (the built service, LOG_LEVEL=info)', () => {
  let database: TestDatabase;
  let service: ServiceProcess;

  beforeAll(async () => {
    database = await createTestDatabase();
    service = await startService(database.url, { LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    await service?.kill('SIGTERM');
    await database?.drop();
  });

  it('logs each request once, with its id, method, full path, status and time', async () => {
    await service.http.get('/saga/TXN_not_there?x=1').set('X-Request-Id', 'log-read-1').expect(404);
    await service.http
      .post('/purchase')
      .set('X-Request-Id', 'log-purchase-1')
      .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
      .expect(200);

    const [read, purchase] = await eventually(
      () => {
        const logs = requestLogs(service);
        const read = logs.filter((entry) => entry.reqId === 'log-read-1');
        const purchase = logs.filter((entry) => entry.reqId === 'log-purchase-1');
        return Promise.resolve(
          read.length > 0 && purchase.length > 0 ? [read, purchase] : undefined,
        );
      },
      5000,
      'both requests in the log',
    );
    expect(read).toHaveLength(1);
    expect(read[0]).toMatchObject({
      level: 30,
      service: 'purchase-saga',
      method: 'GET',
      url: '/saga/TXN_not_there?x=1',
      statusCode: 404,
      remoteAddress: '127.0.0.1',
    });
    expect(read[0].responseTime).toBeGreaterThanOrEqual(0);
    expect(purchase).toHaveLength(1);
    expect(purchase[0]).toMatchObject({
      method: 'POST',
      url: '/purchase',
      statusCode: 200,
    });
  });

  it('leaves out health probes and metrics scrapes, and never logs a credential or cookie', async () => {
    await service.http.get('/health').set('X-Request-Id', 'log-health').expect(200);
    await service.http.get('/metrics').set('X-Request-Id', 'log-metrics').expect(200);
    await service.http
      .get('/admin/integrity')
      .set(ADMIN)
      .set('Cookie', 'session=secret-cookie')
      .set('X-Request-Id', 'log-admin')
      .expect(200);

    const admin = await eventually(
      () => Promise.resolve(requestLogs(service).find((entry) => entry.reqId === 'log-admin')),
      5000,
      'the admin request in the log',
    );
    expect(admin).toMatchObject({ method: 'GET', url: '/admin/integrity', statusCode: 200 });
    expect(service.output()).not.toContain(ADMIN.Authorization.slice('Bearer '.length));
    expect(service.output()).not.toContain('secret-cookie');
    // Logged in order: the probes, answered before it, would be there by now.
    const ids = requestLogs(service).map((entry) => entry.reqId);
    expect(ids).not.toContain('log-health');
    expect(ids).not.toContain('log-metrics');
  });
});
