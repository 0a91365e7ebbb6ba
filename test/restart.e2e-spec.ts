import { request as httpRequest } from 'node:http';
import { Client } from 'pg';
import { expectConservation, expectNoStepTwice } from './support/db-state';
import { freePort, ServiceProcess, startService } from './support/service-process';
import { SessionConnection } from '../src/database/session-connection';
import {
  ADMIN,
  createTestDatabase,
  setConnectable,
  startTestApp,
  TestDatabase,
} from './support/test-app';
import { eventually } from './support/wait';

/**
 * A restarted instance finishes its own sagas at once instead of waiting out their leases; a
 * second process never runs under a name that a live one holds; SIGTERM hands an instance's
 * sagas to another at once. Every run holds its leases an hour (sagas and outbox writes), far
 * beyond the test's own timeout, so only the identity can explain a saga finished at all.
 */
const LEASE_MS = 3_600_000;
/** How long the sagas may take to finish once taken back: a limit, not the claim under test. */
const FINISH_MS = 30_000;
const USERS = 10;
const ITEMS = 4;
const OPEN = "status IN ('pending', 'in_progress', 'compensating')";

async function openSagas(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM saga_states WHERE ${OPEN}`,
  );
  return rows[0].n;
}

/** Waits until the slow sagas started are under way, ten of them at least. */
async function sagasInFlight(db: Client): Promise<void> {
  await eventually(
    async () => ((await openSagas(db)) >= 10 ? true : undefined),
    10_000,
    'sagas in flight',
  );
}

/** Waits until no saga is open; answers how long that took. */
async function allTerminal(db: Client, what: string): Promise<number> {
  const from = Date.now();
  await eventually(async () => ((await openSagas(db)) === 0 ? true : undefined), FINISH_MS, what);
  return Date.now() - from;
}

async function seed(service: ServiceProcess, prefix: string): Promise<void> {
  for (let u = 0; u < USERS; u++) {
    await service.http
      .post('/admin/users')
      .set(ADMIN)
      .send({ userId: `${prefix}-user-${u}`, name: `U${u}`, balance: 500 })
      .expect(201);
  }
  for (let i = 0; i < ITEMS; i++) {
    await service.http
      .post('/admin/items')
      .set(ADMIN)
      .send({ itemId: `${prefix}-item-${i}`, name: `I${i}`, price: 5 + i, stock: 200 })
      .expect(201);
  }
}

/** Starts `count` purchases without waiting for them (202), both patterns, on `service`. */
async function startPurchases(service: ServiceProcess, prefix: string, count: number) {
  const answers = await Promise.all(
    Array.from({ length: count }, (_, n) =>
      service.http
        .post('/purchase')
        .set('Prefer', 'respond-async')
        .send({
          userId: `${prefix}-user-${n % USERS}`,
          itemId: `${prefix}-item-${n % ITEMS}`,
          quantity: 1,
          pattern: n % 2 === 0 ? 'orchestration' : 'choreography',
        }),
    ),
  );
  expect(answers.map((res) => res.status)).toEqual(answers.map(() => 202));
}

async function expectBooksBalance(db: Client, prefix: string): Promise<void> {
  const balances: Record<string, string> = {};
  for (let u = 0; u < USERS; u++) balances[`${prefix}-user-${u}`] = '500.00';
  const stock: Record<string, number> = {};
  for (let i = 0; i < ITEMS; i++) stock[`${prefix}-item-${i}`] = 200;
  await expectConservation(db, { balances, stock });
  await expectNoStepTwice(db);
  const patterns = await db.query<{ pattern: string; n: number }>(
    `SELECT pattern, count(*)::int AS n FROM saga_states WHERE status = 'completed'
       AND user_id LIKE $1 GROUP BY pattern ORDER BY pattern`,
    [`${prefix}-%`],
  );
  expect(patterns.rows.map((row) => row.pattern)).toEqual(['choreography', 'orchestration']);
}

describe('Instance identity across restarts', () => {
  let database: TestDatabase;
  let db: Client;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    db = new Client({ connectionString: database.url });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await Promise.all(services.map((service) => service.kill()));
    await database?.drop();
  });

  async function start(env: Record<string, string>): Promise<ServiceProcess> {
    const service = await startService(database.url, {
      SAGA_LEASE_MS: String(LEASE_MS),
      OUTBOX_LEASE_MS: String(LEASE_MS),
      ...env,
    });
    services.push(service);
    return service;
  }

  it('kill -9 mid-load, restart under the same name: its sagas finish at once; a second process on that name took another', async () => {
    const port = String(await freePort());
    // Slow steps, so the kill finds sagas at every stage of both patterns.
    const slow = { PORT: port, SAGA_FAULTS: 'delay-4000:item_grant,delay-4000:log_record' };
    const first = await start(slow);
    await seed(first, 'rs');
    await startPurchases(first, 'rs', 40);
    await sagasInFlight(db);

    // Another process of the same host and port (another loopback address): the name is taken.
    const twin = await start({ PORT: port, HOST: '127.0.0.2' });
    expect(twin.output()).toMatch(/Instance name \S+ is held by another running process/);
    const leased = await db.query<{ owner: string; n: number }>(
      `SELECT lease_owner AS owner, count(*)::int AS n FROM saga_states
       WHERE ${OPEN} AND lease_expires_at IS NOT NULL GROUP BY lease_owner`,
    );
    // The twin took back nothing: every open saga is still leased, and to the first process.
    expect(leased.rows).toHaveLength(1);
    expect(leased.rows[0].owner).toMatch(new RegExp(`:${port}$`));
    await twin.kill('SIGTERM');

    await first.kill('SIGKILL');
    const inFlight = await openSagas(db);
    expect(inFlight).toBeGreaterThan(0);
    const restartedAt = Date.now();
    const restarted = await start({ PORT: port });
    const healthyMs = Date.now() - restartedAt;
    const ms = await allTerminal(db, 'the restarted instance to finish its own sagas');
    process.stdout.write(
      `restart: ${inFlight} saga(s) in flight at the kill; restarted process healthy after ${healthyMs} ms, all terminal ${ms} ms later (lease ${LEASE_MS} ms)\n`,
    );
    expect(restarted.output()).toMatch(/Taking back \d+ saga\(s\) and \d+ outbox write\(s\)/);
    await expectBooksBalance(db, 'rs');
    await restarted.kill('SIGTERM');
  });

  it('refuses to start under an INSTANCE_ID a live process holds', async () => {
    const holder = await start({ INSTANCE_ID: 'checkout-1' });
    const second = await startService(database.url, { INSTANCE_ID: 'checkout-1' }).then(
      (service) => {
        services.push(service);
        return 'started';
      },
      (error: Error) => error.message,
    );
    expect(second).toMatch(/The service exited during start/);
    expect(second).toMatch(
      /Invalid configuration: INSTANCE_ID "checkout-1" is held by another running process on this database/,
    );
    // The holder still serves.
    await holder.http.get('/health').expect(200);
    await holder.kill('SIGTERM');
  });

  it('SIGTERM under load hands the sagas to the other instance at once', async () => {
    const leaving = await start({
      LOG_LEVEL: 'info',
      SAGA_FAULTS: 'delay-300:item_grant,delay-300:log_record',
    });
    const staying = await start({});
    await seed(staying, 'st');
    await startPurchases(leaving, 'st', 40);
    await sagasInFlight(db);
    const inFlight = await openSagas(db);
    const from = Date.now();
    await leaving.kill('SIGTERM');
    const exit = await leaving.exited;
    const stoppedMs = Date.now() - from;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(leaving.output()).toMatch(/Handed over \d+ saga\(s\) and \d+ outbox write\(s\)/);
    const ms = await allTerminal(db, 'the other instance to finish the sagas handed over');
    process.stdout.write(
      `sigterm: ${inFlight} saga(s) in flight at SIGTERM, process gone after ${stoppedMs} ms, all terminal ${ms} ms later (lease ${LEASE_MS} ms)\n`,
    );
    await expectBooksBalance(db, 'st');
    // Purchases sent to the leaving instance while it drained were refused, not half taken.
    await staying.http.get('/health').expect(200);
  });

  it('SIGTERM answers the purchases waiting there before it closes the database, their clients gone or not', async () => {
    const leaving = await start({
      // They would wait half a minute for their sagas; the shutdown answers them now.
      PURCHASE_WAIT_MS: '30000',
      SAGA_FAULTS: 'delay-300:item_grant,delay-300:log_record',
    });
    await seed(leaving, 'sa');
    const body = (n: number) => ({
      userId: `sa-user-${n % USERS}`,
      itemId: `sa-item-${n % ITEMS}`,
      quantity: 1,
      pattern: n % 2 === 0 ? 'orchestration' : 'choreography',
    });
    const waiting = Array.from({ length: 10 }, (_, n) =>
      leaving.http
        .post('/purchase')
        .send(body(n))
        .then((res) => res),
    );
    await Promise.all(
      Array.from({ length: 10 }, (_, n) => purchaseAndHangUp(leaving.url, body(n))),
    );
    await sagasInFlight(db);
    const from = Date.now();
    await leaving.kill('SIGTERM');
    expect(await leaving.exited).toEqual({ code: 0, signal: null });
    const stoppedMs = Date.now() - from;
    const answers = await Promise.all(waiting);
    process.stdout.write(
      `sigterm with purchases waiting: process gone after ${stoppedMs} ms (PURCHASE_WAIT_MS 30000); answers ${answers.map((res) => res.status).join(' ')}\n`,
    );
    // Each was answered with its saga as it stood (202, or 200 if it ended first), none refused.
    for (const res of answers) {
      expect([200, 202]).toContain(res.status);
      expect(res.body.transactionId).toMatch(/^TXN_/);
    }
    // No purchase was answered from a closed pool (or found it closed and said so).
    expect(leaving.output()).not.toMatch(/Cannot use a pool after calling end|interrupted/);
    // Nothing lost: another instance finishes what this one let go of.
    const staying = await start({});
    await allTerminal(db, 'the sagas let go of at SIGTERM');
    await expectBooksBalance(db, 'sa');
    await staying.kill('SIGTERM');
  });
});

/**
 * Sends a purchase and lets its socket go once it is sent, as a client that gave up would: the
 * service goes on answering it to nobody. Resolves once the request is written.
 */
function purchaseAndHangUp(url: string, body: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/purchase`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify(body), () => {
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    req.on('response', () => reject(new Error('answered before the client hung up')));
  });
}

describe("The instance's own session", () => {
  it('is opened again, with its lock, when the server cuts it', async () => {
    const t = await startTestApp();
    try {
      const holder = async (): Promise<number | undefined> => {
        const { rows } = await t.db.query<{ pid: number }>(
          `SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
           WHERE a.datname = current_database() AND l.locktype = 'advisory' AND l.granted
             AND a.application_name = 'purchase-saga-service:session'`,
        );
        return rows[0]?.pid;
      };
      const first = await holder();
      expect(first).toEqual(expect.any(Number));
      await t.db.query('SELECT pg_terminate_backend($1)', [first]);
      const second = await eventually(
        async () => {
          const pid = await holder();
          return pid !== undefined && pid !== first ? pid : undefined;
        },
        10_000,
        'the session and its lock to be taken again',
      );
      expect(second).not.toBe(first);
      await t.http.get('/health').expect(200);
    } finally {
      await t.close();
    }
  });
});

describe("The instance's own session, while the server refuses it", () => {
  it('stops its tries with the service: none is made after shutdown', async () => {
    const t = await startTestApp();
    const connects = jest.spyOn(SessionConnection.prototype, 'connect');
    try {
      const { rows } = await t.db.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'purchase-saga-service:session'`,
      );
      expect(rows).toHaveLength(1);
      // New sessions are refused; the pool's open ones (and the test's) stay.
      await setConnectable(t.databaseUrl, false, { keepSessions: true });
      await t.db.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      // Two refused tries (after pauses of 200 and 400 ms): the next pause is 800 ms.
      await eventually(
        () => Promise.resolve(connects.mock.calls.length >= 2 ? true : undefined),
        10_000,
        'two tries to open the session again',
      );
      await t.stop();
      const tries = connects.mock.calls.length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(connects.mock.calls.length).toBe(tries);
    } finally {
      connects.mockRestore();
      await setConnectable(t.databaseUrl, true);
      await t.close();
    }
  });
});
