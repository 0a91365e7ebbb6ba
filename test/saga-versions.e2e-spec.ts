import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { OutboxRepository } from '../src/modules/saga/choreography/outbox.repository';
import { CURRENT_PURCHASE_DEFINITION } from '../src/modules/saga/core/definition/saga-definitions';
import { ADMIN, startTestApp, type TestApp } from './support/test-app';
import { holdStep } from './support/hold-step';
import { eventually } from './support/wait';

const SWORD = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };

/**
 * A choreographed saga as a dead instance left it: recorded, its PurchaseInitiated written but not
 * published (the write's lease expired), its own lease still running so that recovery leaves it
 * be: only the outbox sweep can set it going. Answers the pending row's id.
 */
async function plantInitiated(
  db: Client,
  transactionId: string,
  version: number,
  { heldBack = false } = {},
): Promise<string> {
  const hash = version === 1 ? CURRENT_PURCHASE_DEFINITION.hash : 'd'.repeat(64);
  const payload = {
    causationId: null,
    occurredAt: new Date().toISOString(),
    saga: { version: 0, status: 'pending', completed: [], compensated: [] },
    data: {},
  };
  const { rows } = await db.query<{ id: string }>(
    `WITH saga AS (
       INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price,
         lease_owner, lease_expires_at, definition_name, definition_version, definition_hash)
       VALUES ($1, 'choreography', 'pending', 'user-123', 'item-potion', 1, 20.00, 'dead-instance',
               now() + interval '1 hour', 'purchase', $2, $3)
       RETURNING transaction_id
     ),
     event AS (
       INSERT INTO outbox_events (event_id, event_type, aggregate_id, payload)
       SELECT $4, 'PurchaseInitiated', transaction_id, $5 FROM saga RETURNING id
     )
     INSERT INTO outbox_pending (id, event_ids, lease_owner, lease_expires_at, available_at)
     SELECT id, ARRAY[id], 'dead-instance', now() - interval '1 minute',
            CASE WHEN $6 THEN now() + interval '1 hour' ELSE now() END
     FROM event
     RETURNING id::text AS id`,
    [transactionId, version, hash, randomUUID(), JSON.stringify(payload), heldBack],
  );
  return rows[0].id;
}

/** /health's view of the definition versions, once it equals `expected`. */
async function healthShows(t: TestApp, expected: unknown, what: string): Promise<void> {
  await eventually(
    async () => {
      const health = await t.http.get('/health').expect(200);
      return JSON.stringify(health.body.details.sagaDefinitions) === JSON.stringify(expected)
        ? true
        : undefined;
    },
    10_000,
    what,
  );
}

/** A saga of `version` as another build left it: open, its lease run out. */
async function plantOpen(
  db: Client,
  transactionId: string,
  version: number,
  {
    pattern = 'orchestration',
    status = 'pending',
    forward = [],
  }: { pattern?: string; status?: string; forward?: string[] } = {},
): Promise<void> {
  await db.query(
    `INSERT INTO saga_states (transaction_id, pattern, status, current_step, user_id, item_id,
       quantity, price, lease_owner, lease_expires_at, definition_name, definition_version,
       definition_hash)
     VALUES ($1, $2, $3, $4, 'user-456', 'item-potion', 1, 20.00, 'other-build',
             now() - interval '1 minute', 'purchase', $5, $6)`,
    [transactionId, pattern, status, forward.at(-1) ?? null, version, 'c'.repeat(64)],
  );
  for (const step of forward) {
    await db.query(
      `INSERT INTO saga_step_results (transaction_id, step, kind, status, data, duration_ms)
       VALUES ($1, $2, 'forward', 'success', '{}', 1)`,
      [transactionId, step],
    );
  }
}

interface SagaDefinitionColumns {
  transaction_id: string;
  status: string;
  version: number;
  definition_name: string;
  definition_version: number;
  definition_hash: string;
}

async function definitionsOf(db: Client, ids: string[]): Promise<SagaDefinitionColumns[]> {
  const { rows } = await db.query<SagaDefinitionColumns>(
    `SELECT transaction_id, status, version, definition_name, definition_version, definition_hash
     FROM saga_states WHERE transaction_id = ANY($1::varchar[]) ORDER BY transaction_id`,
    [ids],
  );
  return rows;
}

describe('every saga records the definition it runs', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ NOTIFICATION_FAILURE_RATE: '0' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('in both patterns, through the idempotency path too, and when refused before any effect', async () => {
    const ids: string[] = [];
    for (const pattern of ['orchestration', 'choreography']) {
      const done = await t.http
        .post('/purchase')
        .send({ ...SWORD, pattern })
        .expect(200);
      ids.push(done.body.transactionId as string);
    }
    const keyed = await t.http
      .post('/purchase')
      .set('Idempotency-Key', 'versioned-1')
      .send(SWORD)
      .expect(200);
    ids.push(keyed.body.transactionId as string);
    await t.http.post('/purchase').set('Idempotency-Key', 'versioned-1').send(SWORD).expect(200);
    const refused = await t.http
      .post('/purchase')
      .send({ userId: 'user-suspended', itemId: 'item-sword', quantity: 1 })
      .expect(409);
    ids.push(refused.body.transactionId as string);

    const { rows } = await t.db.query<{
      definition_name: string;
      definition_version: number;
      definition_hash: string;
    }>(
      `SELECT definition_name, definition_version, definition_hash FROM saga_states
       WHERE transaction_id = ANY($1::varchar[])`,
      [ids],
    );
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row).toEqual({
        definition_name: 'purchase',
        definition_version: 1,
        definition_hash: CURRENT_PURCHASE_DEFINITION.hash,
      });
    }
  });
});

describe('an instance drives only the definition versions it has', () => {
  const env = { NOTIFICATION_FAILURE_RATE: '0', RECOVERY_POLL_MS: '100', SAGA_LEASE_MS: '1000' };
  let t: TestApp;

  beforeAll(async () => {
    // A first run loads the demo data; the sagas are left as a dead instance (one of a build
    // with version 99) would leave them; the service then starts again over them.
    const first = await startTestApp(env);
    await first.db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price,
         lease_owner, lease_expires_at, definition_name, definition_version, definition_hash)
       VALUES ($1, 'orchestration', 'pending', 'user-123', 'item-sword', 1, 100.00,
               'dead-instance', now() - interval '1 minute', 'purchase', $2, $3)`,
      ['TXN_VERSION_99', 99, 'f'.repeat(64)],
    );
    await first.db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity, price,
         lease_owner, lease_expires_at)
       VALUES ('TXN_VERSION_1', 'orchestration', 'pending', 'user-123', 'item-sword', 1, 100.00,
               'dead-instance', now() - interval '1 minute')`,
    );
    await first.stop();
    t = await startTestApp(env, first.database);
  });

  afterAll(async () => {
    await t.close();
  });

  it('recovers the v1 saga as before and leaves the v99 one untouched', async () => {
    await eventually(
      async () => {
        const { rows } = await t.db.query<{ status: string }>(
          `SELECT status FROM saga_states WHERE transaction_id = 'TXN_VERSION_1'`,
        );
        return rows[0].status === 'completed' ? true : undefined;
      },
      20_000,
      'the v1 saga to be recovered',
    );
    // Recovery has made passes since; the v99 saga is as the dead instance left it.
    const { rows } = await t.db.query(
      `SELECT status, lease_owner, attempts, version, definition_version FROM saga_states
       WHERE transaction_id = 'TXN_VERSION_99'`,
    );
    expect(rows[0]).toEqual({
      status: 'pending',
      lease_owner: 'dead-instance',
      attempts: 0,
      version: 0,
      definition_version: 99,
    });
    const steps = await t.db.query(
      `SELECT 1 FROM saga_step_results WHERE transaction_id = 'TXN_VERSION_99'`,
    );
    expect(steps.rowCount).toBe(0);
  });

  it('says so in /health (degraded, not down) and in the admin overview', async () => {
    const health = await t.http.get('/health').expect(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.details.sagaDefinitions).toEqual({
      status: 'degraded',
      registered: ['purchase@1'],
      unregisteredOpen: [{ name: 'purchase', version: 99, open: 1 }],
    });

    const stats = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
    expect(stats.body.definitions).toEqual({
      registered: ['purchase@1'],
      open: [{ name: 'purchase', version: 99, open: 1, registered: false }],
      unregisteredOpen: 1,
    });
  });

  it('refuses an admin compensation of a saga of a version it lacks, changing nothing', async () => {
    const before = await t.db.query(
      `SELECT status, lease_owner, version FROM saga_states WHERE transaction_id = 'TXN_VERSION_99'`,
    );
    const res = await t.http.post('/compensate/TXN_VERSION_99').set(ADMIN).expect(409);
    expect(res.body).toMatchObject({ errorCode: 'SAGA_VERSION_NOT_REGISTERED' });
    expect(res.body.message).toContain('version 99');
    const after = await t.db.query(
      `SELECT status, lease_owner, version FROM saga_states WHERE transaction_id = 'TXN_VERSION_99'`,
    );
    expect(after.rows).toEqual(before.rows);
  });

  it("tells the console's saga detail whether this instance drives the saga's version", async () => {
    const old = await t.http.get('/admin/sagas/TXN_VERSION_99').set(ADMIN).expect(200);
    expect(old.body.definitionDriven).toBe(false);
    const current = await t.http.get('/admin/sagas/TXN_VERSION_1').set(ADMIN).expect(200);
    expect(current.body.definitionDriven).toBe(true);
  });

  it("shows each saga's definition version in GET /saga/:id and in the admin listing", async () => {
    const old = await t.http.get('/saga/TXN_VERSION_99').expect(200);
    expect(old.body.saga.definition).toEqual({ name: 'purchase', version: 99 });
    const recovered = await t.http.get('/saga/TXN_VERSION_1').expect(200);
    expect(recovered.body.saga.definition).toEqual({ name: 'purchase', version: 1 });

    const listed = await t.http
      .get('/admin/sagas?userId=user-123&limit=100')
      .set(ADMIN)
      .expect(200);
    const byId = new Map(
      (listed.body.data as { transactionId: string; definition: unknown }[]).map((row) => [
        row.transactionId,
        row.definition,
      ]),
    );
    expect(byId.get('TXN_VERSION_99')).toEqual({ name: 'purchase', version: 99 });
    expect(byId.get('TXN_VERSION_1')).toEqual({ name: 'purchase', version: 1 });
  });
});

describe('the open sagas per version are counted again while the instance runs', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ NOTIFICATION_FAILURE_RATE: '0', SAGA_VERSIONS_CHECK_MS: '200' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('shows sagas of a version it lacks that appear after start, and their end, in /health and the overview', async () => {
    const health = await t.http.get('/health').expect(200);
    expect(health.body.details.sagaDefinitions).toEqual({
      status: 'up',
      registered: ['purchase@1'],
      unregisteredOpen: [],
    });

    // Written by an instance of a build with version 42, after this one started.
    for (const id of ['TXN_V42_A', 'TXN_V42_B']) {
      await t.db.query(
        `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity,
           price, lease_owner, lease_expires_at, definition_name, definition_version,
           definition_hash)
         VALUES ($1, 'choreography', 'in_progress', 'user-123', 'item-sword', 1, 100.00,
                 'other-build', now() + interval '1 hour', 'purchase', 42, $2)`,
        [id, 'e'.repeat(64)],
      );
    }
    await healthShows(
      t,
      {
        status: 'degraded',
        registered: ['purchase@1'],
        unregisteredOpen: [{ name: 'purchase', version: 42, open: 2 }],
      },
      'the two v42 sagas in /health',
    );

    // The other build finishes one, then the other.
    await t.db.query(
      `UPDATE saga_states SET status = 'completed' WHERE transaction_id = 'TXN_V42_A'`,
    );
    await healthShows(
      t,
      {
        status: 'degraded',
        registered: ['purchase@1'],
        unregisteredOpen: [{ name: 'purchase', version: 42, open: 1 }],
      },
      'one v42 saga left in /health',
    );
    const stats = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
    expect(stats.body.definitions.unregisteredOpen).toBe(1);

    await t.db.query(
      `UPDATE saga_states SET status = 'completed' WHERE transaction_id = 'TXN_V42_B'`,
    );
    await healthShows(
      t,
      { status: 'up', registered: ['purchase@1'], unregisteredOpen: [] },
      'no v42 saga left in /health',
    );
  });
});

describe('choreography leaves the events of a saga of a version it lacks alone', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({
      NOTIFICATION_FAILURE_RATE: '0',
      OUTBOX_POLL_MS: '100',
      RECOVERY_POLL_MS: '100',
    });
  });

  afterAll(async () => {
    await t.close();
  });

  it("the sweep publishes a dead writer's event of a v1 saga and leaves the v42 one pending, untouched", async () => {
    const balance = async (): Promise<string> =>
      (
        await t.db.query<{ balance: string }>(
          `SELECT balance FROM users WHERE user_id = 'user-123'`,
        )
      ).rows[0].balance;
    const before = await balance();
    const v42 = await plantInitiated(t.db, 'TXN_CHOREO_V42', 42);
    const v1 = await plantInitiated(t.db, 'TXN_CHOREO_V1', 1);

    await eventually(
      async () => {
        const { rows } = await t.db.query<{ status: string }>(
          `SELECT status FROM saga_states WHERE transaction_id = 'TXN_CHOREO_V1'`,
        );
        return rows[0].status === 'completed' ? true : undefined;
      },
      20_000,
      'the v1 saga to be driven by its swept event',
    );
    await eventually(
      async () =>
        (await t.db.query('SELECT 1 FROM outbox_pending WHERE id = $1', [v1])).rowCount === 0
          ? true
          : undefined,
      10_000,
      "the v1 saga's swept write to be acknowledged",
    );

    // Sweeps ran since (every 100 ms): the v42 write is as its writer left it, never claimed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pending = await t.db.query(
      'SELECT lease_owner, attempts, event_ids::text[] AS event_ids FROM outbox_pending WHERE id = $1',
      [v42],
    );
    expect(pending.rows).toEqual([{ lease_owner: 'dead-instance', attempts: 0, event_ids: [v42] }]);
    const saga = await t.db.query(
      `SELECT status, version, lease_owner FROM saga_states WHERE transaction_id = 'TXN_CHOREO_V42'`,
    );
    expect(saga.rows).toEqual([{ status: 'pending', version: 0, lease_owner: 'dead-instance' }]);
    const steps = await t.db.query(
      `SELECT 1 FROM saga_step_results WHERE transaction_id = 'TXN_CHOREO_V42'`,
    );
    expect(steps.rowCount).toBe(0);
    const events = await t.db.query(
      `SELECT event_type FROM outbox_events WHERE aggregate_id = 'TXN_CHOREO_V42'`,
    );
    expect(events.rows).toEqual([{ event_type: 'PurchaseInitiated' }]);
    // Only the v1 purchase was paid.
    expect(Number(await balance())).toBeCloseTo(Number(before) - 20, 2);
  });

  it('never claims a write that mixes events of a version it lacks with its own', async () => {
    const outbox = t.app.get(OutboxRepository, { strict: false });
    const a = await plantInitiated(t.db, 'TXN_MIXED_V42', 42, { heldBack: true });
    const b = await plantInitiated(t.db, 'TXN_MIXED_V1', 1, { heldBack: true });
    // One write listing both events, as a step batch of a v1 + v42 build writes them.
    await t.db.query('DELETE FROM outbox_pending WHERE id = $1', [b]);
    await t.db.query(
      `UPDATE outbox_pending SET event_ids = ARRAY[$1::bigint, $2::bigint], available_at = now()
       WHERE id = $1`,
      [a, b],
    );
    expect(await outbox.claimStale('test-sweeper', 60_000, 100)).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pending = await t.db.query(
      'SELECT lease_owner, attempts FROM outbox_pending WHERE id = $1',
      [a],
    );
    expect(pending.rows).toEqual([{ lease_owner: 'dead-instance', attempts: 0 }]);
    const ids = ['TXN_MIXED_V1', 'TXN_MIXED_V42'];
    expect((await definitionsOf(t.db, ids)).map((row) => row.status)).toEqual([
      'pending',
      'pending',
    ]);

    // Its v42 saga moved to v1 (as an admin would), the write is swept whole: both sagas run.
    await t.db.query(
      `UPDATE saga_states SET definition_version = 1, definition_hash = $1
       WHERE transaction_id = 'TXN_MIXED_V42'`,
      [CURRENT_PURCHASE_DEFINITION.hash],
    );
    await eventually(
      async () => {
        const rows = await definitionsOf(t.db, ids);
        return rows.every((row) => row.status === 'completed') ? true : undefined;
      },
      20_000,
      'both sagas of the mixed write to complete',
    );
  });
});

describe('POST /admin/saga-versions/move: an audited move of open sagas onto a registered version', () => {
  let t: TestApp;
  const MOVE = '/admin/saga-versions/move';
  const V1 = { name: 'purchase', version: 1 };

  const auditRows = async () =>
    (
      await t.db.query<{
        actor: string;
        action: string;
        transaction_id: string | null;
        reason: string;
        outcome: string;
        error_code: string | null;
        detail: string;
      }>(
        `SELECT actor, action, transaction_id, reason, outcome, error_code, detail
         FROM admin_audit_log ORDER BY id`,
      )
    ).rows;

  beforeAll(async () => {
    t = await startTestApp({
      NOTIFICATION_FAILURE_RATE: '0',
      RECOVERY_POLL_MS: '100',
      OUTBOX_POLL_MS: '100',
      // Only a recount on demand or after a move: the move's own refresh is what /health shows.
      SAGA_VERSIONS_CHECK_MS: '3600000',
    });
  });

  afterAll(async () => {
    await t.close();
  });

  it('lists the registered definitions with their steps and the open sagas per version', async () => {
    await plantOpen(t.db, 'TXN_LIST_V45', 45);
    const res = await t.http.get('/admin/saga-versions').set(ADMIN).expect(200);
    expect(res.body).toEqual({
      registered: [
        {
          name: 'purchase',
          version: 1,
          hash: CURRENT_PURCHASE_DEFINITION.hash,
          current: true,
          steps: [
            { name: 'user_validation', pivot: false, compensable: true },
            { name: 'item_grant', pivot: false, compensable: true },
            { name: 'log_record', pivot: true, compensable: true },
            { name: 'notification', pivot: false, compensable: false },
          ],
        },
      ],
      open: [{ name: 'purchase', version: 45, open: 1, registered: false }],
    });
    await t.db.query(`DELETE FROM saga_states WHERE transaction_id = 'TXN_LIST_V45'`);
    await t.http.get('/admin/saga-versions').expect(401);
  });

  it('refuses bad input with 400 VALIDATION_FAILED, and without a token 401, changing nothing', async () => {
    await plantOpen(t.db, 'TXN_BAD_V46', 46);
    const before = await definitionsOf(t.db, ['TXN_BAD_V46']);
    const good = { from: { name: 'purchase', version: 46 }, to: V1, reason: 'rollback' };
    await t.http.post(MOVE).send(good).expect(401);
    const bad: unknown[] = [
      {},
      { ...good, reason: undefined },
      { ...good, reason: '   ' },
      { ...good, from: 'purchase@46' },
      { ...good, from: { name: 'purchase', version: 0 } },
      { ...good, from: { name: 'purchase', version: 1.5 } },
      { ...good, to: { name: 'purchase' } },
      { ...good, to: { name: 'bad name!', version: 1 } },
      { ...good, to: { ...V1, extra: true } },
      { ...good, extra: 'field' },
      { ...good, to: null },
      { ...good, to: [V1] },
      { ...good, from: V1 },
    ];
    for (const body of bad) {
      const res = await t.http
        .post(MOVE)
        .set(ADMIN)
        .send(body as object);
      expect({ body, status: res.status, errorCode: res.body.errorCode }).toEqual({
        body,
        status: 400,
        errorCode: 'VALIDATION_FAILED',
      });
      expect(typeof res.body.message).toBe('string');
    }
    expect(await definitionsOf(t.db, ['TXN_BAD_V46'])).toEqual(before);
    // Bad input is no action: nothing in the audit log.
    expect(await auditRows()).toEqual([]);
    await t.db.query(`DELETE FROM saga_states WHERE transaction_id = 'TXN_BAD_V46'`);
  });

  it('refuses a target this build lacks (409 SAGA_VERSION_NOT_REGISTERED) and a saga whose steps differ (409 SAGA_VERSION_INCOMPATIBLE): none moved, the refusal audited', async () => {
    await plantOpen(t.db, 'TXN_V43_FRESH', 43);
    // Its build ran a spending cap second: v1 has item_grant there.
    await plantOpen(t.db, 'TXN_V43_CAPPED', 43, {
      status: 'in_progress',
      forward: ['user_validation', 'spending_cap'],
    });
    const ids = ['TXN_V43_CAPPED', 'TXN_V43_FRESH'];
    const before = await definitionsOf(t.db, ids);

    const unknown = await t.http
      .post(MOVE)
      .set(ADMIN)
      .send({
        from: { name: 'purchase', version: 43 },
        to: { name: 'purchase', version: 7 },
        reason: 'to a version nobody has',
      })
      .expect(409);
    expect(unknown.body).toMatchObject({ errorCode: 'SAGA_VERSION_NOT_REGISTERED' });
    expect(unknown.body.message).toContain('purchase version 7 is not registered');

    const incompatible = await t.http
      .post(MOVE)
      .set(ADMIN)
      .send({ from: { name: 'purchase', version: 43 }, to: V1, reason: 'rollback of v43' })
      .expect(409);
    expect(incompatible.body).toMatchObject({
      statusCode: 409,
      errorCode: 'SAGA_VERSION_INCOMPATIBLE',
      details: {
        incompatible: 1,
        sagas: [
          {
            transactionId: 'TXN_V43_CAPPED',
            reason:
              'it has been through user_validation, spending_cap; step 2 of purchase v1 is item_grant, not spending_cap',
          },
        ],
      },
    });
    expect(incompatible.body.message).toContain('1 of the 2 open saga(s) of purchase@43');
    expect(incompatible.body.message).toContain('none was moved');

    // Nothing moved, not even the saga that could have.
    expect(await definitionsOf(t.db, ids)).toEqual(before);
    expect(await auditRows()).toEqual([
      {
        actor: 'admin',
        action: 'move-version',
        transaction_id: null,
        reason: 'to a version nobody has',
        outcome: 'refused',
        error_code: 'SAGA_VERSION_NOT_REGISTERED',
        detail: expect.stringContaining('purchase@43 to purchase@7'),
      },
      {
        actor: 'admin',
        action: 'move-version',
        transaction_id: null,
        reason: 'rollback of v43',
        outcome: 'refused',
        error_code: 'SAGA_VERSION_INCOMPATIBLE',
        detail: expect.stringContaining('TXN_V43_CAPPED'),
      },
    ]);
    await t.db.query(`DELETE FROM saga_step_results WHERE transaction_id = ANY($1::varchar[])`, [
      ids,
    ]);
    await t.db.query(`DELETE FROM saga_states WHERE transaction_id = ANY($1::varchar[])`, [ids]);
    await t.db.query('DELETE FROM admin_audit_log');
  });

  it('moves every open saga of the version, and only those, records the move, and the sagas then finish on v1', async () => {
    const balance = async (): Promise<number> =>
      Number(
        (
          await t.db.query<{ balance: string }>(
            `SELECT balance FROM users WHERE user_id = 'user-456'`,
          )
        ).rows[0].balance,
      );
    const balanceBefore = await balance();
    await plantOpen(t.db, 'TXN_V42_ORCH', 42);
    await plantOpen(t.db, 'TXN_V42_CHOREO', 42, { pattern: 'choreography' });
    await plantOpen(t.db, 'TXN_V42_DONE', 42, { status: 'completed' });
    await plantOpen(t.db, 'TXN_V44_OTHER', 44);
    const moving = ['TXN_V42_CHOREO', 'TXN_V42_ORCH'];
    const untouched = ['TXN_V42_DONE', 'TXN_V44_OTHER'];
    const untouchedBefore = await definitionsOf(t.db, untouched);
    const movingBefore = await definitionsOf(t.db, moving);

    // Seen (and cached) as v42 first.
    const seen = await t.http.get('/saga/TXN_V42_ORCH').expect(200);
    expect(seen.body.saga.definition).toEqual({ name: 'purchase', version: 42 });
    await t.http.get('/admin/saga-versions').set(ADMIN).expect(200);
    const degraded = await t.http.get('/health').expect(200);
    expect(degraded.body.details.sagaDefinitions.unregisteredOpen).toEqual([
      { name: 'purchase', version: 42, open: 2 },
      { name: 'purchase', version: 44, open: 1 },
    ]);

    const res = await t.http
      .post(MOVE)
      .set(ADMIN)
      .send({
        from: { name: 'purchase', version: 42 },
        to: V1,
        reason: 'Rollback of release 42: its sagas go on as v1',
      })
      .expect(200);
    expect(res.body).toEqual({
      success: true,
      message: '2 open saga(s) moved from purchase@42 to purchase@1',
      moved: 2,
      from: { name: 'purchase', version: 42 },
      to: { name: 'purchase', version: 1, hash: CURRENT_PURCHASE_DEFINITION.hash },
      audit: expect.objectContaining({
        actor: 'admin',
        action: 'move-version',
        transactionId: null,
        reason: 'Rollback of release 42: its sagas go on as v1',
        outcome: 'succeeded',
        errorCode: null,
        detail: `2 open saga(s) moved from purchase@42 to purchase@1 (hash ${CURRENT_PURCHASE_DEFINITION.hash})`,
      }),
    });

    // The cache dropped the view it held: it names the definition the saga now runs.
    const moved = await t.http.get('/saga/TXN_V42_ORCH').expect(200);
    expect(moved.body.saga.definition).toEqual({ name: 'purchase', version: 1 });
    // /health follows at once (no periodic count in this test), with the v44 saga still there.
    const health = await t.http.get('/health').expect(200);
    expect(health.body.details.sagaDefinitions.unregisteredOpen).toEqual([
      { name: 'purchase', version: 44, open: 1 },
    ]);
    expect(await definitionsOf(t.db, untouched)).toEqual(untouchedBefore);
    const audit = await t.http.get('/admin/audit').set(ADMIN).expect(200);
    expect(audit.body.data).toEqual([res.body.audit]);

    // Recovery takes them on as v1 sagas and finishes them.
    await eventually(
      async () => {
        const rows = await definitionsOf(t.db, moving);
        return rows.every((row) => row.status === 'completed') ? rows : undefined;
      },
      20_000,
      'the moved sagas to complete on v1',
    );
    const after = await definitionsOf(t.db, moving);
    after.forEach((row, index) => {
      expect(row).toMatchObject({
        definition_name: 'purchase',
        definition_version: 1,
        definition_hash: CURRENT_PURCHASE_DEFINITION.hash,
      });
      expect(row.version).toBeGreaterThan(movingBefore[index].version);
    });
    const steps = await t.db.query<{ transaction_id: string; steps: string[] }>(
      `SELECT transaction_id, array_agg(step ORDER BY id)::text[] AS steps FROM saga_step_results
       WHERE transaction_id = ANY($1::varchar[]) AND kind = 'forward' AND status = 'success'
       GROUP BY transaction_id ORDER BY transaction_id`,
      [moving],
    );
    expect(steps.rows).toEqual(
      moving.map((id) => ({
        transaction_id: id,
        steps: ['user_validation', 'item_grant', 'log_record', 'notification'],
      })),
    );
    // Two purchases of 20.00, each paid once.
    expect(await balance()).toBeCloseTo(balanceBefore - 40, 2);
    expect(await definitionsOf(t.db, untouched)).toEqual(untouchedBefore);
  });

  it.each(['orchestration', 'choreography'])(
    'fences out a driver still at work on a moved saga (%s): it finishes once, on v1',
    async (pattern) => {
      const figures = async () => {
        const { rows } = await t.db.query<{ balance: string; stock: number }>(
          `SELECT (SELECT balance FROM users WHERE user_id = 'user-123') AS balance,
                  (SELECT stock FROM items WHERE item_id = 'item-sword') AS stock`,
        );
        return { balance: Number(rows[0].balance), stock: rows[0].stock };
      };
      const before = await figures();
      const hold = holdStep(t, 'item_grant');
      let id: string;
      try {
        const res = await t.http
          .post('/purchase')
          .set('Prefer', 'respond-async')
          .send({ ...SWORD, pattern })
          .expect(202);
        id = res.body.transactionId as string;
        await hold.reached;
        // Its driver waits at item_grant, user_validation committed; the saga turns out to run
        // a version this build lacks (as if its row had been written by another build).
        await t.db.query(
          `UPDATE saga_states SET definition_version = 47, definition_hash = $2
           WHERE transaction_id = $1`,
          [id, 'b'.repeat(64)],
        );
        const moved = await t.http
          .post(MOVE)
          .set(ADMIN)
          .send({ from: { name: 'purchase', version: 47 }, to: V1, reason: 'fence drill' })
          .expect(200);
        expect(moved.body.moved).toBe(1);
      } finally {
        // The held driver goes on: its step is fenced out by the move's version bump.
        hold.restore();
      }
      // Recovery takes it on at once (the move let go of the lease; SAGA_LEASE_MS is 15 s).
      await eventually(
        async () => {
          const [row] = await definitionsOf(t.db, [id]);
          return row.status === 'completed' ? row : undefined;
        },
        10_000,
        'the moved saga to complete',
      );
      const steps = await t.db.query<{ step: string }>(
        `SELECT step FROM saga_step_results
         WHERE transaction_id = $1 AND kind = 'forward' AND status = 'success' ORDER BY id`,
        [id],
      );
      expect(steps.rows.map((row) => row.step)).toEqual([
        'user_validation',
        'item_grant',
        'log_record',
        'notification',
      ]);
      const logs = await t.db.query('SELECT 1 FROM transaction_logs WHERE transaction_id = $1', [
        id,
      ]);
      expect(logs.rowCount).toBe(1);
      // Paid once, granted once.
      const after = await figures();
      expect(after.stock).toBe(before.stock - 1);
      expect(after.balance).toBeCloseTo(before.balance - 100, 2);
    },
  );

  it('answers 0 when the version has no open saga left, and records that too', async () => {
    const res = await t.http
      .post(MOVE)
      .set(ADMIN)
      .send({ from: { name: 'purchase', version: 42 }, to: V1, reason: 'again' })
      .expect(200);
    expect(res.body).toMatchObject({ success: true, moved: 0 });
    expect(res.body.audit).toMatchObject({ outcome: 'succeeded', reason: 'again' });
  });
});
