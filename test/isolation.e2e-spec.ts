import { Client } from 'pg';
import type { Response } from 'supertest';
import { ReportingTransactionHost } from '../src/database/work-pools';
import { ADMIN, startTestApp, type TestApp } from './support/test-app';
import { eventually } from './support/wait';

/** HTTP reads that go to the reporting pool. */
const REPORTS: { path: string; admin: boolean }[] = [
  { path: '/sagas/stats', admin: false },
  { path: '/patterns/comparison', admin: false },
  { path: '/choreography/stats', admin: false },
  { path: '/choreography/user/user-123/history', admin: false },
  { path: '/logs/user-123', admin: false },
  { path: '/admin/statistics', admin: true },
  { path: '/admin/sagas', admin: true },
  { path: '/admin/sagas?itemId=item-potion', admin: true },
  { path: '/admin/audit', admin: true },
];

function report(t: TestApp, path: string, admin = true): ReturnType<TestApp['http']['get']> {
  const call = t.http.get(path);
  return admin ? call.set(ADMIN) : call;
}

/**
 * Holds one turn of the reporting gate, and its connection, in a transaction that waits for the
 * test to let go.
 */
function holdReporting(t: TestApp): { release(): void; done: Promise<void> } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const reporting = t.app.get(ReportingTransactionHost);
  const done = reporting.run(async () => {
    await reporting.query('SELECT 1');
    await released;
  });
  return { release, done };
}

/** Waits until the reporting gate is as busy as given. */
async function reportingIs(t: TestApp, inUse: number, waiting: number): Promise<void> {
  const reporting = t.app.get(ReportingTransactionHost);
  await eventually(
    () => {
      const usage = reporting.usage();
      return Promise.resolve(
        usage?.inUse === inUse && usage.waiting === waiting ? true : undefined,
      );
    },
    10_000,
    `the reporting pool at ${inUse} in use and ${waiting} waiting`,
  );
}

function expectBusy(res: Response, retryAfter: string): void {
  expect(res.status).toBe(429);
  expect(res.headers['retry-after']).toBe(retryAfter);
  expect(res.body).toEqual({
    statusCode: 429,
    errorCode: 'REPORTING_BUSY',
    message: expect.stringMatching(/^Reporting is busy/),
  });
}

function sample(text: string, key: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  return line === undefined ? undefined : Number(line.slice(key.length + 1));
}

describe('Isolation of the purchase path', () => {
  describe('with the reporting pool taken and its queue full', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({
        REPORTING_POOL_SIZE: '1',
        REPORTING_QUEUE: '1',
        REPORTING_STATEMENT_TIMEOUT_MS: '30000',
      });
    });
    afterAll(async () => {
      await t.close();
    });

    it('purchases and saga reads complete, reports are refused with 429 REPORTING_BUSY, jobs run', async () => {
      const hold = holdReporting(t);
      let held = true;
      void hold.done.then(() => {
        held = false;
      });
      await reportingIs(t, 1, 0);
      const queued = report(t, '/admin/sagas?limit=5').then((res) => res);
      await reportingIs(t, 1, 1);

      const refused = await Promise.all(REPORTS.map((r) => report(t, r.path, r.admin)));
      for (const res of refused) expectBusy(res, '1');

      const bought = await t.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
        .expect(200);
      const { transactionId } = bought.body as { transactionId: string };
      const saga = await t.http.get(`/saga/${transactionId}`).expect(200);
      expect(saga.body.saga).toMatchObject({ transactionId, status: 'completed' });
      // The jobs have a pool of their own.
      await t.http.get('/admin/integrity').set(ADMIN).expect(200);
      expect(held).toBe(true);

      const metrics = await t.http.get('/metrics').expect(200);
      expect(sample(metrics.text, 'saga_db_pool_in_use{pool="reporting"}')).toBe(1);
      expect(sample(metrics.text, 'saga_db_pool_waiting{pool="reporting"}')).toBe(1);
      expect(sample(metrics.text, 'saga_db_pool_in_use{pool="purchase"}')).toBeDefined();
      expect(sample(metrics.text, 'saga_db_pool_in_use{pool="jobs"}')).toBeDefined();
      expect(
        sample(metrics.text, 'saga_reporting_shed_total{reason="queue-full"}'),
      ).toBeGreaterThanOrEqual(REPORTS.length);

      hold.release();
      await hold.done;
      const page = await queued;
      expect(page.status).toBe(200);
      expect(page.body).toMatchObject({ total: 1, totalEstimated: false });
      await reportingIs(t, 0, 0);
      await report(t, '/admin/statistics').expect(200);
    });

    it('names each pool in pg_stat_activity', async () => {
      await report(t, '/sagas/stats').expect(200);
      await t.http.get('/admin/integrity').set(ADMIN).expect(200);
      const { rows } = await t.db.query<{ application_name: string }>(
        `SELECT DISTINCT application_name FROM pg_stat_activity
          WHERE datname = current_database() AND application_name LIKE 'purchase-saga-service%'
          ORDER BY application_name`,
      );
      expect(rows.map((row) => row.application_name)).toEqual([
        'purchase-saga-service',
        'purchase-saga-service:jobs',
        'purchase-saga-service:reporting',
        'purchase-saga-service:session',
      ]);
    });

    it('answers a storm of reports with 200 or 429, never a 5xx, while purchases go through', async () => {
      const storm = Array.from({ length: 40 }, (_, i) => REPORTS[i % REPORTS.length]);
      const [answers, purchases] = await Promise.all([
        Promise.all(storm.map((r) => report(t, r.path, r.admin))),
        Promise.all(
          Array.from({ length: 5 }, () =>
            t.http
              .post('/purchase')
              .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 }),
          ),
        ),
      ]);
      for (const res of answers) {
        if (res.status === 429) expectBusy(res, '1');
        else expect(res.status).toBe(200);
      }
      expect(purchases.map((res) => res.status)).toEqual([200, 200, 200, 200, 200]);
      await reportingIs(t, 0, 0);
    });

    it('frees every turn of requests whose clients hung up', async () => {
      const hold = holdReporting(t);
      await reportingIs(t, 1, 0);
      const abandoned = report(t, '/admin/sagas')
        .timeout(200)
        .catch((error: unknown) => error);
      expect(await abandoned).toMatchObject({ timeout: 200 });
      await reportingIs(t, 1, 1);
      hold.release();
      await hold.done;
      await reportingIs(t, 0, 0);
      await report(t, '/admin/sagas').expect(200);
    });
  });

  describe('with a short reporting statement timeout', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({
        REPORTING_POOL_SIZE: '1',
        REPORTING_QUEUE: '4',
        REPORTING_STATEMENT_TIMEOUT_MS: '1000',
      });
    });
    afterAll(async () => {
      await t.close();
    });

    it('refuses a report that waited longer than the timeout for a turn, with Retry-After', async () => {
      const hold = holdReporting(t);
      await reportingIs(t, 1, 0);
      const waited = await report(t, '/admin/sagas');
      expectBusy(waited, '1');
      expect(waited.body.message).toMatch(/came free in time/);
      hold.release();
      await hold.done;
      await reportingIs(t, 0, 0);
    });

    it('answers a report cut off by the statement timeout 503 REPORT_TIMEOUT, without a stack', async () => {
      const locker = new Client({ connectionString: t.databaseUrl });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE admin_audit_log IN ACCESS EXCLUSIVE MODE');
        const res = await report(t, '/admin/audit');
        expect(res.status).toBe(503);
        expect(res.body).toEqual({
          statusCode: 503,
          errorCode: 'REPORT_TIMEOUT',
          message: expect.stringMatching(/reporting statement timeout/),
        });
        await locker.query('ROLLBACK');
      } finally {
        await locker.end();
      }
      await reportingIs(t, 0, 0);
      await report(t, '/admin/audit').expect(200);
    });
  });
});
