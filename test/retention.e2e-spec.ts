import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/data-source-options';
import { ConfigService } from '@nestjs/config';
import { buildConfig, type AppConfig } from '../src/config/configuration';
import { TransactionHost } from '../src/database/transaction-host';
import { RetentionRepository } from '../src/modules/retention/retention.repository';
import { RetentionService } from '../src/modules/retention/retention.service';
import { SagaViewCache } from '../src/modules/saga/read-model/saga-view.cache';
import { runCli } from './support/cli';
import { startService } from './support/service-process';
import { ADMIN, createTestDatabase, startTestApp, TestApp } from './support/test-app';
import { eventually } from './support/wait';

/**
 * The retention policy through the real service and its commands: what is past its window goes
 * (archived first, added to the purged totals), what must stay stays, reads answer 404 for what
 * went, and the books still balance and still catch corruption afterwards.
 */
const HOUR = 3_600_000;
const TABLES = [
  ['saga_states', 'transaction_id'],
  ['saga_step_results', 'transaction_id'],
  ['transaction_logs', 'transaction_id'],
  ['notifications', 'transaction_id'],
  ['outbox_events', 'aggregate_id'],
] as const;

async function rowsOf(db: Client, transactionId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const [table, column] of TABLES) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`,
      [transactionId],
    );
    counts[table] = rows[0].n;
  }
  return counts;
}

/** Moves a saga, and everything of it, `ms` into the past. */
async function age(db: Client, transactionId: string, ms: number): Promise<void> {
  const shift = `${ms} milliseconds`;
  await db.query(
    `UPDATE saga_states SET created_at = created_at - $2::interval,
       updated_at = updated_at - $2::interval WHERE transaction_id = $1`,
    [transactionId, shift],
  );
  await db.query(
    `UPDATE outbox_events SET created_at = created_at - $2::interval WHERE aggregate_id = $1`,
    [transactionId, shift],
  );
}

/** The saga and its rows as the archive writes them. */
async function snapshotOf(db: Client, transactionId: string): Promise<unknown> {
  const { rows } = await db.query<{ saga: unknown }>(
    `SELECT jsonb_build_object(
       'saga', (SELECT to_jsonb(s) FROM saga_states s WHERE s.transaction_id = $1),
       'steps', (SELECT jsonb_agg(to_jsonb(r) ORDER BY r.id) FROM saga_step_results r WHERE r.transaction_id = $1),
       'log', (SELECT to_jsonb(l) FROM transaction_logs l WHERE l.transaction_id = $1),
       'notifications', (SELECT jsonb_agg(to_jsonb(n)) FROM notifications n WHERE n.transaction_id = $1),
       'integrationEvents', COALESCE((SELECT jsonb_agg(to_jsonb(i) ORDER BY i.seq) FROM integration_events i
                                      WHERE i.transaction_id = $1), '[]'::jsonb)
     ) AS saga`,
    [transactionId],
  );
  return rows[0].saga;
}

describe('Retention', () => {
  let t: TestApp;
  const archiveDir = mkdtempSync(join(tmpdir(), 'saga-archive-'));
  const prefix = `retention-test-${process.pid}:`;
  const policy = {
    RETENTION_CRON: 'off',
    RETENTION_SAGAS: '1h',
    RETENTION_OUTBOX: '10m',
    RETENTION_IDEMPOTENCY: '10m',
    RETENTION_SLICE: '2',
    ARCHIVE_DIR: archiveDir,
    REDIS_URL: 'redis://127.0.0.1:6379',
    CACHE_KEY_PREFIX: prefix,
  };
  const cli = (args: string[]) =>
    runCli('cli/purge.js', args, { ...policy, DATABASE_URL: t.databaseUrl });

  beforeAll(async () => {
    t = await startTestApp(policy);
  });

  afterAll(async () => {
    await t.close();
  });

  async function buy(
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): Promise<{ transactionId: string; status: string }> {
    const res = await t.http.post('/purchase').set(headers).send(body);
    expect(res.status).toBeLessThan(500);
    return res.body as { transactionId: string; status: string };
  }

  it('removes what is past its window and nothing else, archived, with the books balanced', async () => {
    await t.http
      .post('/admin/users/user-123/top-up')
      .set(ADMIN)
      .send({ amount: 10_000 })
      .expect(200);
    const sword = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };
    const oldDone = [
      await buy({ ...sword, pattern: 'orchestration' }),
      await buy({ ...sword, pattern: 'choreography' }),
      await buy({ ...sword, quantity: 2, pattern: 'orchestration' }),
    ];
    const outOfStock = { userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 };
    const oldRefused = await buy(outOfStock);
    const oldFailed = await buy({ userId: 'user-456', itemId: 'item-sword', quantity: 1 });
    expect(oldDone.map((s) => s.status)).toEqual(['completed', 'completed', 'completed']);
    expect(oldRefused.status).toBe('compensated');
    expect(oldFailed.status).toBe('failed');
    const redrive = await buy(outOfStock);
    const pendingEvent = await buy({ ...sword, pattern: 'choreography' });
    const outboxOnly = await buy({ ...sword, pattern: 'choreography' });
    const recent = await buy({ ...sword, pattern: 'choreography' });
    const keyed = await buy(
      { ...sword, pattern: 'orchestration' },
      { 'Idempotency-Key': 'key-old' },
    );
    const keptKey = await buy({ ...sword }, { 'Idempotency-Key': 'key-new' });

    await eventually(
      async () =>
        (await t.db.query('SELECT 1 FROM outbox_pending')).rowCount === 0 ? true : undefined,
      10_000,
      'every outbox event published',
    );
    // An open saga (driven elsewhere), a compensation that gave up, an event not yet published.
    const open = 'TXN_open-old';
    await t.db.query(
      `INSERT INTO saga_states (transaction_id, pattern, status, current_step, user_id, item_id,
         quantity, price, lease_owner, lease_expires_at, created_at, updated_at)
       VALUES ($1, 'orchestration', 'in_progress', 'user_validation', 'user-123', 'item-potion', 1,
         20, 'elsewhere', now() + interval '1 day', now() - interval '3 hours', now() - interval '3 hours')`,
      [open],
    );
    await t.db.query(
      `UPDATE saga_states SET status = 'failed', error_code = 'COMPENSATION_FAILED',
         error_step = 'item_grant', error_message = 'gave up' WHERE transaction_id = $1`,
      [redrive.transactionId],
    );
    const { rows: events } = await t.db.query<{ id: string }>(
      'SELECT id::text FROM outbox_events WHERE aggregate_id = $1 ORDER BY id LIMIT 1',
      [pendingEvent.transactionId],
    );
    await t.db.query(
      `INSERT INTO outbox_pending (id, event_ids, available_at) VALUES ($1, ARRAY[$1::bigint], now() + interval '1 day')`,
      [events[0].id],
    );
    const gone = [...oldDone, oldRefused, oldFailed].map((s) => s.transactionId);
    for (const id of [...gone, redrive.transactionId, pendingEvent.transactionId]) {
      await age(t.db, id, 2 * HOUR);
    }
    await age(t.db, outboxOnly.transactionId, 20 * 60_000);
    await age(t.db, keyed.transactionId, 20 * 60_000);

    // Cached before removal: the removal must take the cache entry along.
    await t.http.get(`/saga/${oldDone[0].transactionId}`).expect(200);
    const archivedBefore = await snapshotOf(t.db, oldDone[1].transactionId);
    const rowsBefore = await rowsOf(t.db, oldDone[1].transactionId);
    expect(rowsBefore.outbox_events).toBeGreaterThan(0);
    const outboxOnlyEvents = (await rowsOf(t.db, outboxOnly.transactionId)).outbox_events;
    // The published events of a saga kept for its pending one are past their window too.
    const pendingSagaEvents = (await rowsOf(t.db, pendingEvent.transactionId)).outbox_events;
    const eventsAlone = outboxOnlyEvents + pendingSagaEvents - 1;

    // A dry run says what would go and takes nothing.
    const dry = await cli(['--dry-run', '--json']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.stdout) as {
      kind: string;
      due: { sagas: Record<string, number>; outboxEvents: number; idempotencyKeys: number };
    };
    expect(planned.kind).toBe('dry-run');
    expect(planned.due.sagas).toEqual({ completed: 3, compensated: 1, failed: 1 });
    expect(planned.due.outboxEvents).toBe(eventsAlone);
    expect(planned.due.idempotencyKeys).toBe(1);
    expect(await rowsOf(t.db, oldDone[1].transactionId)).toEqual(rowsBefore);
    const human = await cli(['--dry-run']);
    expect(human.stdout).toMatch(/Dry run: nothing removed/);
    expect(human.stdout).toMatch(/Sagas settled before .*: 5 \(/);

    // While another process holds the job's lock, a run does nothing.
    const holder = new Client({ connectionString: t.databaseUrl });
    await holder.connect();
    await holder.query(
      "SELECT pg_advisory_lock(hashtext('purchase-saga:retention'), hashtext('run'))",
    );
    const busy = await cli([]);
    expect(busy.stdout).toMatch(/Another instance is running the retention job/);
    expect(busy.code).toBe(1);
    expect(await rowsOf(t.db, oldDone[1].transactionId)).toEqual(rowsBefore);
    await holder.end();

    const run = await cli(['--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const outcome = JSON.parse(run.stdout) as {
      kind: string;
      run: {
        slices: number;
        removed: Record<string, number>;
        archive: { file: string; bytes: number };
      };
    };
    expect(outcome.kind).toBe('ran');
    expect(outcome.run.removed).toMatchObject({
      sagas: 5,
      logs: 3,
      outboxEventsAlone: eventsAlone,
      idempotencyKeys: 1,
    });
    // Slices of 2: three for the sagas, at least one each for events and keys.
    expect(outcome.run.slices).toBeGreaterThanOrEqual(5);
    expect(outcome.run.archive.bytes).toBeGreaterThan(0);

    for (const id of gone) {
      expect(await rowsOf(t.db, id)).toEqual({
        saga_states: 0,
        saga_step_results: 0,
        transaction_logs: 0,
        notifications: 0,
        outbox_events: 0,
      });
    }
    const survivors = [open, redrive.transactionId, pendingEvent.transactionId];
    for (const id of [...survivors, recent.transactionId, keyed.transactionId]) {
      expect((await rowsOf(t.db, id)).saga_states).toBe(1);
    }
    expect((await rowsOf(t.db, pendingEvent.transactionId)).outbox_events).toBe(1);
    expect((await rowsOf(t.db, recent.transactionId)).outbox_events).toBeGreaterThan(0);
    expect(await rowsOf(t.db, outboxOnly.transactionId)).toMatchObject({
      saga_states: 1,
      outbox_events: 0,
    });

    // Reads answer 404 for what went (the cached view too), 200 for what stayed.
    const purged = await t.http.get(`/saga/${oldDone[0].transactionId}`).expect(404);
    expect(purged.body).toMatchObject({ errorCode: 'SAGA_NOT_FOUND' });
    await t.http.get(`/choreography/transaction/${oldDone[1].transactionId}`).expect(404);
    await t.http.get(`/saga/${outboxOnly.transactionId}`).expect(200);
    await t.http.get(`/choreography/transaction/${outboxOnly.transactionId}`).expect(200);

    // An expired key starts a new purchase; a key in its window still replays.
    const again = await buy({ ...sword, quantity: 3 }, { 'Idempotency-Key': 'key-old' });
    expect(again.transactionId).not.toBe(keyed.transactionId);
    expect(again.status).toBe('completed');
    const replay = await buy({ ...sword }, { 'Idempotency-Key': 'key-new' });
    expect(replay.transactionId).toBe(keptKey.transactionId);

    // The archive gives back what was removed.
    const read = await runCli(
      'cli/archive-read.js',
      [archiveDir, '--transaction', oldDone[1].transactionId],
      {},
    );
    expect(read.stderr).toBe('');
    expect(read.code).toBe(0);
    const lines = read.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const archived = JSON.parse(lines[0]) as Record<string, unknown> & { events: unknown[] };
    expect({ ...archived, events: undefined }).toEqual({
      ...(archivedBefore as object),
      events: undefined,
    });
    expect(archived.events).toHaveLength(rowsBefore.outbox_events);
    const all = await runCli('cli/archive-read.js', [archiveDir], {});
    expect(all.stdout.trim().split('\n')).toHaveLength(5);
    const byUser = await runCli('cli/archive-read.js', [archiveDir, '--user', 'user-456'], {});
    expect(
      byUser.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).saga.transaction_id),
    ).toEqual([oldFailed.transactionId]);

    // Statistics show the policy and the run.
    const stats = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
    expect(stats.body.retention).toMatchObject({
      policy: {
        sagasMs: HOUR,
        outboxMs: 600_000,
        idempotencyMs: 600_000,
        cron: null,
        archive: true,
      },
      purgedSagas: 5,
      lastRun: { removed: { sagas: 5 } },
    });

    // The books still balance: verify is clean, and still names a corrupted balance.
    // (once the arranged exceptions are undone: they are findings of their own)
    await t.db.query(`UPDATE saga_states SET status = 'compensated' WHERE transaction_id = $1`, [
      redrive.transactionId,
    ]);
    await t.db.query('DELETE FROM saga_states WHERE transaction_id = $1', [open]);
    await t.db.query('DELETE FROM outbox_pending WHERE id = $1', [events[0].id]);
    const clean = await runCli('cli/verify.js', ['--json'], { DATABASE_URL: t.databaseUrl });
    expect(JSON.parse(clean.stdout)).toMatchObject({ clean: true, violations: 0 });
    await t.db.query("UPDATE users SET balance = balance + 7 WHERE user_id = 'user-123'");
    const caught = await runCli('cli/verify.js', [], { DATABASE_URL: t.databaseUrl });
    expect(caught.code).toBe(1);
    expect(caught.stdout).toMatch(/User user-123: balance/);
    await t.db.query("UPDATE users SET balance = balance - 7 WHERE user_id = 'user-123'");
  });

  it('runs in the service too, counted in the metrics, one instance at a time', async () => {
    const done = await buy({ userId: 'user-123', itemId: 'item-potion', quantity: 1 });
    await age(t.db, done.transactionId, 2 * HOUR);
    const retention = t.app.get(RetentionService);
    const holder = new Client({ connectionString: t.databaseUrl });
    await holder.connect();
    await holder.query(
      "SELECT pg_advisory_lock(hashtext('purchase-saga:retention'), hashtext('run'))",
    );
    expect(await retention.run('test')).toEqual({ kind: 'busy' });
    await holder.end();
    const outcome = await retention.run('test');
    // This one, the saga the first test kept for its pending event, published since, and the one
    // it left compensated after its give-up (as a re-drive leaves it: settled).
    expect(outcome).toMatchObject({ kind: 'ran', run: { removed: { sagas: 3 } } });
    expect((await rowsOf(t.db, done.transactionId)).saga_states).toBe(0);
    const metrics = await t.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/retention_rows_removed_total\{table="saga_states"\} [1-9]/);
    expect(metrics.text).toMatch(/retention_runs_total\{result="busy"\} [1-9]/);
    expect(metrics.text).toMatch(/retention_last_run_timestamp_seconds \d/);
    expect(metrics.text).toMatch(/retention_archive_bytes_total [1-9]/);
  });

  it('says what would go, and keeps a saga it could not archive', async () => {
    const done = await buy({ userId: 'user-123', itemId: 'item-potion', quantity: 1 });
    await age(t.db, done.transactionId, 2 * HOUR);
    const retention = t.app.get(RetentionService);
    expect(await retention.dryRun()).toMatchObject({
      kind: 'dry-run',
      due: { sagas: { completed: 1 }, idempotencyKeys: 0 },
    });
    // The archive directory gone, a file in its place: the slice's removal rolls back.
    rmSync(archiveDir, { recursive: true });
    writeFileSync(archiveDir, '');
    try {
      const outcome = await retention.run('test');
      expect(outcome).toMatchObject({ kind: 'ran', run: { removed: { sagas: 0 } } });
      expect(outcome.kind === 'ran' && outcome.run.error).toMatch(/EEXIST|ENOTDIR/);
      expect((await rowsOf(t.db, done.transactionId)).saga_states).toBe(1);
      const stats = await t.http.get('/admin/statistics').set(ADMIN).expect(200);
      expect(stats.body.retention.lastRun.error).toMatch(/EEXIST|ENOTDIR/);
    } finally {
      rmSync(archiveDir);
    }
    const outcome = await retention.run('test');
    expect(outcome).toMatchObject({ kind: 'ran', run: { removed: { sagas: 1 } } });
    expect(outcome.kind === 'ran' && outcome.run.error).toBeUndefined();
  });

  it('removes a saga whose compensation was re-driven to its end, like any compensated one', async () => {
    const undone = await buy({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 });
    expect(undone.status).toBe('compensated');
    // What a re-drive leaves (test/saga-core.e2e-spec.ts): compensated, the give-up's code kept.
    await t.db.query(
      `UPDATE saga_states SET error_code = 'COMPENSATION_FAILED', error_step = 'user_validation',
         error_message = 'gave up, then re-driven' WHERE transaction_id = $1`,
      [undone.transactionId],
    );
    await age(t.db, undone.transactionId, 2 * HOUR);
    const retention = t.app.get(RetentionService);
    expect(await retention.dryRun()).toMatchObject({ due: { sagas: { compensated: 1 } } });
    const outcome = await retention.run('test');
    expect(outcome).toMatchObject({ kind: 'ran', run: { removed: { sagas: 1 } } });
    expect((await rowsOf(t.db, undone.transactionId)).saga_states).toBe(0);
  });

  it('keeps a slice whose every saga waits for an event, and keeps all under "off"', async () => {
    const waiting = await buy({
      userId: 'user-123',
      itemId: 'item-sword',
      quantity: 1,
      pattern: 'choreography',
    });
    const refused = await buy({ userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 });
    const done = await buy({ userId: 'user-123', itemId: 'item-potion', quantity: 1 });
    await eventually(
      async () =>
        (await t.db.query('SELECT 1 FROM outbox_pending')).rowCount === 0 ? true : undefined,
      10_000,
      'every outbox event published',
    );
    const { rows } = await t.db.query<{ id: string }>(
      'SELECT max(id)::text AS id FROM outbox_events WHERE aggregate_id = $1',
      [waiting.transactionId],
    );
    await t.db.query(
      `INSERT INTO outbox_pending (id, event_ids, available_at) VALUES ($1, ARRAY[$1::bigint], now() + interval '1 day')`,
      [rows[0].id],
    );
    try {
      // The oldest alone first (a slice of its own, all of it kept), then the other two.
      await age(t.db, waiting.transactionId, 3 * HOUR);
      await age(t.db, refused.transactionId, 2 * HOUR);
      await age(t.db, done.transactionId, 2 * HOUR);
      const kept = new RetentionService(
        t.app.get(RetentionRepository),
        t.app.get(TransactionHost),
        t.app.get(SagaViewCache),
        new ConfigService<AppConfig, true>(
          buildConfig({
            DATABASE_URL: t.databaseUrl,
            RETENTION_SAGAS: 'off',
            RETENTION_OUTBOX: 'off',
            RETENTION_IDEMPOTENCY: 'off',
            RETENTION_CRON: 'off',
          }),
        ),
      );
      expect(await kept.dryRun()).toEqual({
        kind: 'dry-run',
        cutoffs: { sagas: null, outbox: null, idempotency: null },
        due: { sagas: {}, oldestSaga: null, outboxEvents: 0, idempotencyKeys: 0 },
      });
      expect(await kept.run('test')).toMatchObject({
        kind: 'ran',
        run: { slices: 0, archive: null },
      });
      expect((await kept.status()).policy).toEqual({
        sagasMs: null,
        outboxMs: null,
        idempotencyMs: null,
        cron: null,
        archive: false,
      });

      const retention = t.app.get(RetentionService);
      const due = await retention.dryRun();
      expect(due).toMatchObject({ due: { sagas: { completed: 1, compensated: 1 } } });
      // The oldest of the two due (the older one is held by its pending outbox write).
      const dueSagas = await t.db.query<{ oldest: Date }>(
        'SELECT min(created_at) AS oldest FROM saga_states WHERE transaction_id = ANY($1)',
        [[refused.transactionId, done.transactionId]],
      );
      expect(due.kind === 'dry-run' && due.due.oldestSaga).toEqual(dueSagas.rows[0].oldest);
      const outcome = await retention.run('test');
      expect(outcome).toMatchObject({ kind: 'ran', run: { removed: { sagas: 2 } } });
      expect((await rowsOf(t.db, waiting.transactionId)).saga_states).toBe(1);
    } finally {
      await t.db.query('DELETE FROM outbox_pending WHERE id = $1', [rows[0].id]);
    }
  });
});

describe('Retention and the space it frees', () => {
  it('vacuums a table once removal left enough dead rows in it', async () => {
    const archiveDir = mkdtempSync(join(tmpdir(), 'saga-archive-'));
    const t = await startTestApp({
      RETENTION_CRON: 'off',
      RETENTION_SAGAS: '1h',
      ARCHIVE_DIR: archiveDir,
    });
    try {
      // Refused before any effect, two hours old: nothing for the books, all due.
      await t.db.query(
        `INSERT INTO saga_states (transaction_id, pattern, status, user_id, item_id, quantity,
           error_code, created_at, updated_at, failed_at)
         SELECT 'TXN_old-' || n, 'orchestration', 'failed', 'user-123', 'item-potion', 1,
                'ITEM_NOT_AVAILABLE', now() - interval '2 hours', now() - interval '2 hours',
                now() - interval '2 hours'
         FROM generate_series(1, 1500) AS n`,
      );
      const retention = t.app.get(RetentionService);
      const first = await retention.run('test');
      expect(first).toMatchObject({ kind: 'ran', run: { removed: { sagas: 1500 } } });
      // The server counts the dead rows within a second or so of the removal.
      const vacuumed = await eventually(
        async () => {
          const outcome = await retention.run('test');
          return outcome.kind === 'ran' && outcome.run.vacuumed.includes('saga_states')
            ? outcome.run.vacuumed
            : undefined;
        },
        10_000,
        'saga_states to be vacuumed',
      );
      expect(vacuumed).toEqual(['saga_states']);
      const { rows } = await t.db.query<{ dead: string }>(
        `SELECT n_dead_tup::text AS dead FROM pg_stat_user_tables WHERE relname = 'saga_states'`,
      );
      expect(Number(rows[0].dead)).toBeLessThan(1500);
      const metrics = await t.http.get('/metrics').expect(200);
      expect(metrics.text).toMatch(/retention_vacuums_total\{table="saga_states"\} [1-9]/);
      // Read back through a pipe, more than a pipe's buffer holds: every line arrives.
      const read = await runCli('cli/archive-read.js', [archiveDir], {});
      expect(read.stderr).toBe('');
      expect(read.stdout.length).toBeGreaterThan(65_536);
      const ids = read.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).saga.transaction_id);
      expect(new Set(ids).size).toBe(1500);
    } finally {
      await t.close();
    }
  });
});

describe('Retention settings', () => {
  it.each([
    [{ RETENTION_SAGAS: 'a month' }, /RETENTION_SAGAS must be a duration/],
    [{ RETENTION_SAGAS: '1h', RETENTION_OUTBOX: '2h' }, /RETENTION_OUTBOX must not be longer/],
    [{ RETENTION_CRON: 'hourly' }, /RETENTION_CRON must be a cron expression/],
    [{ ARCHIVE_DIR: '/etc/hostname/archive' }, /ARCHIVE_DIR must be a directory this process/],
  ])('%j stops the start with a message naming the variable', async (env, message) => {
    const database = await createTestDatabase();
    try {
      const failure = await startService(database.url, env).then(
        async (service) => {
          await service.kill();
          return 'started';
        },
        (error: Error) => error.message,
      );
      expect(failure).toMatch(/The service exited during start/);
      expect(failure).toMatch(message);
    } finally {
      await database.drop();
    }
  });
});

describe('The retention migration', () => {
  it('brings a database of the schema before it up with every row in place', async () => {
    const first = await startTestApp({ RETENTION_CRON: 'off' });
    const { database } = first;
    try {
      for (const pattern of ['orchestration', 'choreography', 'orchestration']) {
        await first.http
          .post('/purchase')
          .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1, pattern })
          .expect(200);
      }
    } finally {
      await first.stop();
    }
    try {
      // Back to the schema before this migration (and those after it), with the data written on it.
      const dataSource = new DataSource(
        dataSourceOptions(database.url, { poolSize: 1, slowQueryMs: 600_000 }),
      );
      await dataSource.initialize();
      for (let undone = ''; undone !== 'Retention1796000000000';) {
        const [last] = await dataSource.query<{ name: string }[]>(
          'SELECT name FROM migrations ORDER BY id DESC LIMIT 1',
        );
        await dataSource.undoLastMigration({ transaction: 'each' });
        undone = last.name;
      }
      await dataSource.destroy();
      const db = new Client({ connectionString: database.url });
      await db.connect();
      const tables = `SELECT count(*)::int AS n FROM information_schema.tables
                      WHERE table_name IN ('saga_purged_totals', 'retention_runs')`;
      expect((await db.query<{ n: number }>(tables)).rows[0].n).toBe(0);
      const counts = async (): Promise<number[]> => {
        const found: number[] = [];
        for (const [table] of TABLES) {
          const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
          found.push(rows[0].n);
        }
        return found;
      };
      const before = await counts();
      expect(before[0]).toBe(3);

      const second = await startTestApp({ RETENTION_CRON: 'off' }, database);
      try {
        expect((await db.query<{ n: number }>(tables)).rows[0].n).toBe(2);
        expect(await counts()).toEqual(before);
        const report = await second.http.get('/admin/integrity').set(ADMIN).expect(200);
        expect(report.body).toMatchObject({ clean: true });
      } finally {
        await db.end();
        await second.stop();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('The retention schedule', () => {
  it('runs the job on RETENTION_CRON', async () => {
    const t = await startTestApp({ RETENTION_CRON: '* * * * * *', RETENTION_SAGAS: '1h' });
    try {
      const res = await t.http
        .post('/purchase')
        .send({ userId: 'user-123', itemId: 'item-potion', quantity: 1 })
        .expect(200);
      const id = (res.body as { transactionId: string }).transactionId;
      await age(t.db, id, 2 * HOUR);
      await eventually(
        async () => ((await rowsOf(t.db, id)).saga_states === 0 ? true : undefined),
        10_000,
        'the scheduled run to remove the saga',
      );
      await t.http.get(`/saga/${id}`).expect(404);
    } finally {
      await t.close();
    }
  });
});
