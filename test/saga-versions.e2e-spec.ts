import { randomUUID } from 'node:crypto';
import type { Client } from 'pg';
import { OutboxRepository } from '../src/modules/saga/choreography/outbox.repository';
import { CURRENT_PURCHASE_DEFINITION } from '../src/modules/saga/core/definition/saga-definitions';
import { ADMIN, startTestApp, type TestApp } from './support/test-app';
import { eventually } from './support/wait';

const SWORD = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };

/**
 * A choreographed saga as a dead instance left it: recorded, its PurchaseInitiated written but not
 * published (the write's lease expired), its own lease still running so that recovery leaves it
 * be: only the outbox sweep can set it going. Answers the pending row's id.
 */
async function plantInitiated(db: Client, transactionId: string, version: number): Promise<string> {
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
     INSERT INTO outbox_pending (id, event_ids, lease_owner, lease_expires_at)
     SELECT id, ARRAY[id], 'dead-instance', now() - interval '1 minute' FROM event
     RETURNING id::text AS id`,
    [transactionId, version, hash, randomUUID(), JSON.stringify(payload)],
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
    const pendingV1 = await t.db.query('SELECT 1 FROM outbox_pending WHERE id = $1', [v1]);
    expect(pendingV1.rowCount).toBe(0);

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
    const a = await plantInitiated(t.db, 'TXN_MIXED_V42', 42);
    const b = await plantInitiated(t.db, 'TXN_MIXED_V1', 1);
    // One write listing both events, as a step batch of a v1 + v42 build writes them; held back
    // from this app's own sweep by its available_at.
    await t.db.query('DELETE FROM outbox_pending WHERE id = $1', [b]);
    await t.db.query(
      `UPDATE outbox_pending SET event_ids = ARRAY[$1::bigint, $2::bigint],
         available_at = now() + interval '1 hour' WHERE id = $1`,
      [a, b],
    );
    await t.db.query(`UPDATE outbox_pending SET available_at = now() WHERE id = $1`, [a]);
    expect(await outbox.claimStale('test-sweeper', 60_000, 100)).toEqual([]);
    // Moved to v1 (as an admin would), the write is claimed whole.
    await t.db.query(
      `UPDATE saga_states SET definition_version = 1, definition_hash = $1
       WHERE transaction_id = 'TXN_MIXED_V42'`,
      [CURRENT_PURCHASE_DEFINITION.hash],
    );
    const claimed = await outbox.claimStale('test-sweeper', 60_000, 100);
    expect(claimed.map((event) => event.id)).toEqual([a, b]);
    expect(claimed.map((event) => event.payload?.transactionId)).toEqual([
      'TXN_MIXED_V42',
      'TXN_MIXED_V1',
    ]);
  });
});
