import { Client } from 'pg';
import type { Response } from 'supertest';
import { balanceOf, countRows, expectConservation, ownedOf, stockOf } from './support/db-state';
import { ADMIN, setConnectable, startTestApp, TestApp } from './support/test-app';
import { holdStep } from './support/hold-step';
import { eventually } from './support/wait';

const FAST_RETRIES = { STEP_MAX_ATTEMPTS: '3', STEP_RETRY_BASE_MS: '1', STEP_RETRY_MAX_MS: '5' };
const sword = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };

describe.each(['orchestration', 'choreography'])('%s', (pattern) => {
  describe('A step that keeps failing before the pivot (SAGA_FAULTS=fail:log_record)', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({
        ...FAST_RETRIES,
        SAGA_PATTERN_MODE: pattern,
        SAGA_FAULTS: 'fail:log_record',
      });
    });

    afterAll(async () => {
      await t.close();
    });

    it('compensates item_grant then user_validation, and leaves no effect', async () => {
      const res = await t.http.post('/purchase').send(sword).expect(503);
      expect(res.body).toMatchObject({
        statusCode: 503,
        errorCode: 'STEP_FAILED',
        status: 'compensated',
        completedSteps: ['user_validation', 'item_grant'],
        error: { step: 'log_record', code: 'STEP_FAILED' },
      });
      const saga = (await t.http.get(`/saga/${res.body.transactionId}`).expect(200)).body.saga;
      expect(saga.steps.map((s: { step: string; status: string }) => [s.step, s.status])).toEqual([
        ['user_validation', 'success'],
        ['item_grant', 'success'],
        ['log_record', 'failed'],
      ]);
      expect(
        saga.compensations.map((c: { step: string; status: string }) => [c.step, c.status]),
      ).toEqual([
        ['item_grant', 'success'],
        ['user_validation', 'success'],
      ]);
      expect(await balanceOf(t.db, 'user-123')).toBe('1000.00');
      expect(await stockOf(t.db, 'item-sword')).toBe(50);
      expect(await ownedOf(t.db, 'user-123', 'item-sword')).toBe(0);
      expect(await countRows(t.db, 'transaction_logs')).toBe(0);
      expect(await countRows(t.db, 'notifications')).toBe(0);
    });
  });

  describe.each([
    ['SAGA_FAULTS=fail:notification', { SAGA_FAULTS: 'fail:notification' }],
    ['NOTIFICATION_FAILURE_RATE=1', { NOTIFICATION_FAILURE_RATE: '1' }],
  ])('A notification that keeps failing (%s)', (_name, env) => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({ ...FAST_RETRIES, SAGA_PATTERN_MODE: pattern, ...env });
    });

    afterAll(async () => {
      await t.close();
    });

    it('still completes the purchase; the notification row ends failed', async () => {
      const res = await t.http.post('/purchase').send(sword).expect(200);
      expect(res.body).toMatchObject({
        success: true,
        status: 'completed',
        completedSteps: ['user_validation', 'item_grant', 'log_record'],
      });
      const saga = (await t.http.get(`/saga/${res.body.transactionId}`).expect(200)).body.saga;
      expect(saga.steps.at(-1)).toMatchObject({ step: 'notification', status: 'failed' });
      expect(saga.compensations).toEqual([]);
      const notification = await t.db.query(
        'SELECT status, error FROM notifications WHERE transaction_id = $1',
        [res.body.transactionId],
      );
      expect(notification.rows).toHaveLength(1);
      expect(notification.rows[0].status).toBe('failed');
      expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
      const log = await t.db.query(
        'SELECT status FROM transaction_logs WHERE transaction_id = $1',
        [res.body.transactionId],
      );
      expect(log.rows).toEqual([{ status: 'completed' }]);
    });
  });

  describe('A compensation that keeps failing, then an admin re-drive', () => {
    let broken: TestApp;
    let transactionId: string;

    beforeAll(async () => {
      broken = await startTestApp({
        ...FAST_RETRIES,
        SAGA_PATTERN_MODE: pattern,
        SAGA_FAULTS: 'fail:compensation:user_validation',
      });
    });

    it('ends failed with COMPENSATION_FAILED, the debit still standing', async () => {
      const res = await broken.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 })
        .expect(503);
      expect(res.body).toMatchObject({
        errorCode: 'COMPENSATION_FAILED',
        status: 'failed',
        error: { step: 'user_validation', code: 'COMPENSATION_FAILED' },
      });
      transactionId = res.body.transactionId as string;
      expect(await balanceOf(broken.db, 'user-123')).toBe('500.00');
      const saga = (await broken.http.get(`/saga/${transactionId}`).expect(200)).body.saga;
      expect(saga.compensations).toEqual([
        expect.objectContaining({ step: 'user_validation', status: 'failed' }),
      ]);
    });

    it('is re-driven by POST /compensate/:id once the fault is gone', async () => {
      await broken.stop();
      const fixed = await startTestApp(
        { ...FAST_RETRIES, SAGA_PATTERN_MODE: pattern },
        broken.database,
      );
      try {
        await fixed.http.post(`/compensate/${transactionId}`).expect(401);
        await fixed.http.post('/compensate/TXN_nope').set(ADMIN).expect(404);

        const res = await fixed.http.post(`/compensate/${transactionId}`).set(ADMIN).expect(200);
        expect(res.body).toMatchObject({ success: true, saga: { status: 'compensated' } });
        expect(
          res.body.saga.compensations.map((c: { step: string; status: string }) => [
            c.step,
            c.status,
          ]),
        ).toEqual([
          ['user_validation', 'failed'],
          ['user_validation', 'success'],
        ]);
        expect(await balanceOf(fixed.db, 'user-123')).toBe('1000.00');

        // Idempotent: a second call changes nothing.
        const again = await fixed.http.post(`/compensate/${transactionId}`).set(ADMIN).expect(200);
        expect(again.body.message).toMatch(/Nothing to compensate/);
        expect(await balanceOf(fixed.db, 'user-123')).toBe('1000.00');

        // A completed purchase is past its pivot.
        const done = await fixed.http.post('/purchase').send(sword).expect(200);
        const refused = await fixed.http
          .post(`/compensate/${done.body.transactionId}`)
          .set(ADMIN)
          .expect(409);
        expect(refused.body.errorCode).toBe('SAGA_NOT_COMPENSABLE');
        expect(await balanceOf(fixed.db, 'user-123')).toBe('900.00');
      } finally {
        await fixed.close();
      }
    });
  });

  describe('A purchase slower than PURCHASE_WAIT_MS', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp({ SAGA_PATTERN_MODE: pattern, PURCHASE_WAIT_MS: '50' });
    });

    afterAll(async () => {
      await t.close();
    });

    it('answers 202 with a Location, and the saga completes in the background', async () => {
      // Its first step is held until the answer is in: the purchase outlasts PURCHASE_WAIT_MS,
      // and the answer shows the saga as it stands, recorded but not yet started.
      const hold = holdStep(t, 'user_validation');
      let res: Response;
      try {
        res = await t.http.post('/purchase').send(sword).expect(202);
        expect(res.headers.location).toBe(`/saga/${res.body.transactionId}`);
        expect(res.body.status).toBe('pending');
        const held = (await t.http.get(res.headers.location).expect(200)).body.saga;
        expect(held).toMatchObject({ status: 'pending', steps: [] });
      } finally {
        hold.restore();
      }
      const saga = await eventually(
        async () => {
          const view = (await t.http.get(res.headers.location).expect(200)).body.saga;
          return view.status === 'completed' ? (view as { status: string }) : undefined;
        },
        10_000,
        'the saga to complete in the background',
      );
      expect(saga.status).toBe('completed');
      expect(await balanceOf(t.db, 'user-123')).toBe('900.00');
    });
  });
});

describe('The database lost in the middle of a saga', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      ...FAST_RETRIES,
      SAGA_LEASE_MS: '500',
      RECOVERY_POLL_MS: '100',
    });
  });

  afterAll(async () => {
    await setConnectable(t.databaseUrl, true);
    await t.close();
  });

  it('answers 503 with the recorded saga and its Location; recovery settles it once the database is back', async () => {
    // The saga is held as it enters item_grant (user_validation committed) until the database
    // is cut; only the first entry is held, so recovery runs the step freely.
    const hold = holdStep(t, 'item_grant');
    let res: Response;
    try {
      // (supertest sends on then(): start the request now)
      const pending = t.http
        .post('/purchase')
        .send(sword)
        .then((r) => r);
      await hold.reached;
      await setConnectable(t.databaseUrl, false);
      hold.release();
      res = await pending;
    } finally {
      hold.restore();
    }
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ statusCode: 503, errorCode: 'SERVICE_UNAVAILABLE' });
    expect(res.body.transactionId).toMatch(/^TXN_/);
    expect(res.headers.location).toBe(`/saga/${res.body.transactionId}`);

    await setConnectable(t.databaseUrl, true);
    const saga = await eventually(
      async () => {
        const view = await t.http.get(res.headers.location);
        return view.status === 200 && ['completed', 'compensated'].includes(view.body.saga.status)
          ? (view.body.saga as { status: string })
          : undefined;
      },
      15_000,
      'recovery to settle the interrupted saga',
    );
    // The test's own session was cut with the service's: check with a new one.
    const db = new Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      await expectConservation(db, {
        balances: { 'user-123': '1000.00' },
        stock: { 'item-sword': 50 },
      });
    } finally {
      await db.end();
    }
    expect(['completed', 'compensated']).toContain(saga.status);
  });
});
