import { Client } from 'pg';
import { expectConservation, expectNoStepTwice } from './support/db-state';
import { ServiceProcess, startService } from './support/service-process';
import { ADMIN, createTestDatabase, TestDatabase } from './support/test-app';
import { eventually } from './support/wait';

const SAGA_TIMEOUT_MS = 5000;
const ENV = {
  SAGA_TIMEOUT_MS: String(SAGA_TIMEOUT_MS),
  SAGA_LEASE_MS: '1000',
  RECOVERY_POLL_MS: '200',
  OUTBOX_LEASE_MS: '1000',
  OUTBOX_POLL_MS: '200',
  DB_POOL_SIZE: '6',
};
const USERS = 20;
const ITEMS = 8;
const PURCHASES = 300;

describe('Two instances on one database, one killed mid-load', () => {
  let database: TestDatabase;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let db: Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    // A is slow inside its sagas, so the kill finds many of them half done.
    [a, b] = await Promise.all([
      startService(database.url, {
        ...ENV,
        SAGA_FAULTS: 'delay-40:item_grant,delay-40:log_record',
      }),
      startService(database.url, ENV),
    ]);
    db = new Client({ connectionString: database.url });
    await db.connect();
    for (let u = 0; u < USERS; u++) {
      await b.http
        .post('/admin/users')
        .set(ADMIN)
        .send({ userId: `mi-user-${u}`, name: `U${u}`, balance: 150 })
        .expect(201);
    }
    for (let i = 0; i < ITEMS; i++) {
      await b.http
        .post('/admin/items')
        .set(ADMIN)
        .send({ itemId: `mi-item-${i}`, name: `I${i}`, price: 10 + i, stock: 25 })
        .expect(201);
    }
  });

  afterAll(async () => {
    await db?.end();
    await Promise.all([a?.kill(), b?.kill('SIGTERM')]);
    await database?.drop();
  });

  it('the survivor finishes every saga within SAGA_TIMEOUT_MS; balances and stock conserve; nothing applied twice', async () => {
    let sent = 0;
    let aAlive = true;
    const answers: number[] = [];
    const worker = async () => {
      while (sent < PURCHASES) {
        const n = sent++;
        const target = aAlive && n % 2 === 0 ? a : b;
        const body = {
          userId: `mi-user-${n % USERS}`,
          itemId: `mi-item-${(n * 7) % ITEMS}`,
          quantity: 1 + (n % 3),
          pattern: n % 4 < 2 ? 'orchestration' : 'choreography',
        };
        const status = await target.http
          .post('/purchase')
          .send(body)
          .then((r) => r.status)
          .catch(() => 0);
        answers.push(status);
        if (n === 100) aAlive = false;
      }
    };
    const load = Promise.all(Array.from({ length: 24 }, () => worker()));
    await eventually(
      () => Promise.resolve(answers.length >= 100 ? true : undefined),
      60_000,
      '100 answers',
    );
    aAlive = false;
    await a.kill('SIGKILL');
    const killedAt = Date.now();
    const inFlight = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM saga_states WHERE status IN ('pending', 'in_progress', 'compensating')",
    );
    // Orchestrated sagas the dead instance held: only recovery's claims can move them on
    // (choreographed ones may also be moved on by the survivor's outbox sweep).
    const orphans = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM saga_states
       WHERE status IN ('pending', 'in_progress', 'compensating') AND pattern = 'orchestration'
         AND lease_owner LIKE '%:' || $1`,
      [new URL(a.url).port],
    );
    await load;

    await eventually(
      async () => {
        const open = await db.query(
          "SELECT 1 FROM saga_states WHERE status IN ('pending', 'in_progress', 'compensating')",
        );
        return open.rowCount === 0 ? true : undefined;
      },
      SAGA_TIMEOUT_MS + 10_000,
      'every saga to be terminal',
    );
    const recoveredInMs = Date.now() - killedAt;
    process.stdout.write(
      `multi-instance: ${inFlight.rows[0].n} saga(s) in flight at the kill (${orphans.rows[0].n} orchestrated ones of the killed instance), all terminal ${recoveredInMs} ms after it\n`,
    );

    // Answers: the survivor never failed; connection errors come only from the killed instance.
    expect(answers.filter((s) => s >= 500)).toEqual([]);
    const total = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM saga_states');
    expect(total.rows[0].n).toBeGreaterThanOrEqual(answers.filter((s) => s !== 0).length);

    const balances: Record<string, string> = {};
    for (let u = 0; u < USERS; u++) balances[`mi-user-${u}`] = '150.00';
    const stock: Record<string, number> = {};
    for (let i = 0; i < ITEMS; i++) stock[`mi-item-${i}`] = 25;
    await expectConservation(db, { balances, stock });

    await expectNoStepTwice(db);
    const notified = await db.query<{ status: string; n: number }>(
      `SELECT s.status, count(n.notification_id)::int AS n FROM saga_states s
       LEFT JOIN notifications n ON n.transaction_id = s.transaction_id GROUP BY s.status`,
    );
    const completed = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM saga_states WHERE status = 'completed'",
    );
    expect(notified.rows.find((r) => r.status === 'completed')?.n ?? 0).toBe(completed.rows[0].n);
    expect(notified.rows.filter((r) => r.status !== 'completed').every((r) => r.n === 0)).toBe(
      true,
    );
    expect(completed.rows[0].n).toBeGreaterThan(0);

    // The survivor took over the dead instance's orchestrated sagas, and says so in its metrics.
    const metrics = (await b.http.get('/metrics').expect(200)).text;
    const claims = [...metrics.matchAll(/^saga_recovery_claims_total\{[^}]*\} (\d+)$/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    if (orphans.rows[0].n > 0) expect(claims).toBeGreaterThan(0);
  });
});
