import { EventEmitter2 } from '@nestjs/event-emitter';
import { randomBytes } from 'node:crypto';
import { SAGA_CHANGED, type SagaChangedEvent } from '../src/modules/saga/core/saga-changed.event';
import type { SagaRecord, StepName } from '../src/modules/saga/core/saga';
import { toRecord } from '../src/modules/saga/core/saga-record';
import { SagaRepository } from '../src/modules/saga/core/saga.repository';
import { StepRunner, type Move } from '../src/modules/saga/core/step-runner';
import { SagaSteps } from '../src/modules/saga/core/steps/saga-steps';
import { ItemParticipant, UserParticipant } from '../src/modules/saga/choreography/participants';
import { snapshotOf, type SagaEventEnvelope } from '../src/modules/saga/choreography/saga-events';
import type { SagaPattern } from '../src/config/configuration';
import { ChoreographyEngine } from '../src/modules/saga/choreography/choreography.engine';
import { Orchestrator } from '../src/modules/saga/orchestration/orchestrator';
import { balanceOf, ownedOf, stockOf } from './support/db-state';
import { eventually } from './support/wait';
import { startTestApp, type TestApp } from './support/test-app';

/**
 * The runner both patterns drive sagas through, against the real store on a real database: each
 * move answers the saga as it now stands (the caller's is never changed), refusals and failures
 * become the saga's next status by the same rules for both patterns, and a driver that lost the
 * saga is told so without touching it. The sagas here are recorded leased to nobody of this
 * process for an hour, so no engine or recovery moves them behind the test's back.
 */
const FOREIGN_LEASE = { leaseOwner: 'saga-core-test', leaseMs: 3_600_000 };

interface Harness {
  app: TestApp;
  runner: StepRunner;
  steps: SagaSteps;
  sagas: SagaRepository;
  /** Records a pending saga (price × quantity from the demo catalogue's price given). */
  record(
    userId: string,
    itemId: string,
    quantity: number,
    unitPrice: number,
    pattern?: SagaPattern,
  ): Promise<SagaRecord>;
  /** Walks a recorded saga forward through `steps`, expecting each to commit. */
  forward(saga: SagaRecord, steps: StepName[]): Promise<SagaRecord>;
  row(saga: SagaRecord): Promise<{ status: string; version: number; error_code: string | null }>;
  results(saga: SagaRecord): Promise<{ step: string; kind: string; status: string }[]>;
}

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const app = await startTestApp({ NOTIFICATION_FAILURE_RATE: '0', ...env });
  const runner = app.app.get(StepRunner);
  const steps = app.app.get(SagaSteps);
  const sagas = app.app.get(SagaRepository);
  const h: Harness = {
    app,
    runner,
    steps,
    sagas,
    async record(userId, itemId, quantity, unitPrice, pattern = 'orchestration') {
      const [row] = await sagas.insertMany([
        {
          transactionId: `TXN_core_${randomBytes(6).toString('hex')}`,
          pattern,
          status: 'pending',
          userId,
          itemId,
          quantity,
          total: (unitPrice * quantity).toFixed(2),
          idempotencyKey: null,
          requestHash: null,
          traceParent: null,
          error: null,
          ...FOREIGN_LEASE,
        },
      ]);
      if (row === undefined) throw new Error('The saga was not recorded');
      return toRecord(row, []);
    },
    async forward(saga, names) {
      let current = saga;
      for (const name of names) {
        const move = await runner.advance(current, steps.get(name));
        current = moved(move);
      }
      return current;
    },
    async row(saga) {
      const { rows } = await app.db.query<{
        status: string;
        version: number;
        error_code: string | null;
      }>('SELECT status, version, error_code FROM saga_states WHERE transaction_id = $1', [
        saga.context.transactionId,
      ]);
      return rows[0];
    },
    async results(saga) {
      const { rows } = await app.db.query<{ step: string; kind: string; status: string }>(
        `SELECT step, kind, status FROM saga_step_results WHERE transaction_id = $1
         ORDER BY executed_at, id`,
        [saga.context.transactionId],
      );
      return rows;
    },
  };
  return h;
}

function moved(move: Move): SagaRecord {
  if (move.kind !== 'moved') throw new Error(`Expected the saga to move, it was ${move.kind}`);
  return move.saga;
}

describe('StepRunner on the real store', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await harness();
  });

  afterAll(async () => {
    await h?.app.close();
  });

  it('commits a step: the effect, its result row and the saga one version on, returned as a new value', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20);
    const before = JSON.stringify(saga);
    const move = await h.runner.advance(saga, h.steps.get('user_validation'));

    const after = moved(move);
    expect(after).toMatchObject({
      status: 'in_progress',
      version: 1,
      completed: ['user_validation'],
    });
    // The caller's saga is a value: nothing of it changed.
    expect(JSON.stringify(saga)).toBe(before);
    expect(await balanceOf(h.app.db, 'user-123')).toBe('980.00');
    expect(await h.row(saga)).toEqual({ status: 'in_progress', version: 1, error_code: null });
    expect(await h.results(saga)).toEqual([
      { step: 'user_validation', kind: 'forward', status: 'success' },
    ]);
  });

  it('completes the saga after its last step and tells observers, with its age', async () => {
    const events = h.app.app.get(EventEmitter2);
    const seen: SagaChangedEvent[] = [];
    const listener = (event: SagaChangedEvent) => void seen.push(event);
    events.on(SAGA_CHANGED, listener);
    try {
      const saga = await h.record('user-123', 'item-potion', 1, 20);
      const done = await h.forward(saga, [
        'user_validation',
        'item_grant',
        'log_record',
        'notification',
      ]);
      expect(done.status).toBe('completed');
      expect(done.completed).toEqual([
        'user_validation',
        'item_grant',
        'log_record',
        'notification',
      ]);
      const mine = seen.filter((event) => event.transactionId === saga.context.transactionId);
      expect(mine.map((event) => [event.previousStatus, event.status, event.step])).toEqual([
        ['pending', 'in_progress', 'user_validation'],
        ['in_progress', 'in_progress', 'item_grant'],
        ['in_progress', 'in_progress', 'log_record'],
        ['in_progress', 'completed', 'notification'],
      ]);
      expect(mine.slice(0, 3).every((event) => event.sagaAgeMs === null)).toBe(true);
      expect(mine[3].sagaAgeMs).toBeGreaterThanOrEqual(0);
      expect(mine[3].version).toBe(4);
    } finally {
      events.off(SAGA_CHANGED, listener);
    }
  });

  it('fails a saga refused before anything committed, and changes nothing else', async () => {
    const saga = await h.record('user-suspended', 'item-potion', 1, 20);
    const after = moved(await h.runner.advance(saga, h.steps.get('user_validation')));
    expect(after.status).toBe('failed');
    expect(after.error).toMatchObject({ step: 'user_validation', code: 'USER_NOT_ACTIVE' });
    expect(await h.row(saga)).toMatchObject({ status: 'failed', error_code: 'USER_NOT_ACTIVE' });
    expect(await balanceOf(h.app.db, 'user-suspended')).toBe('1000.00');
    expect(await h.results(saga)).toEqual([
      { step: 'user_validation', kind: 'forward', status: 'failed' },
    ]);
  });

  it('starts compensating a saga refused after a committed step', async () => {
    const saga = await h.record('user-123', 'item-out-of-stock', 1, 500);
    const validated = await h.forward(saga, ['user_validation']);
    const after = moved(await h.runner.advance(validated, h.steps.get('item_grant')));
    expect(after.status).toBe('compensating');
    expect(after.error).toMatchObject({ step: 'item_grant', code: 'INSUFFICIENT_STOCK' });
    expect(await h.row(saga)).toMatchObject({
      status: 'compensating',
      error_code: 'INSUFFICIENT_STOCK',
    });

    // The undo of the one committed step ends it compensated, with the debit refunded.
    const balance = await balanceOf(h.app.db, 'user-123');
    const undone = moved(await h.runner.undo(after, h.steps.get('user_validation')));
    expect(undone).toMatchObject({ status: 'compensated', compensated: ['user_validation'] });
    expect(Number(await balanceOf(h.app.db, 'user-123'))).toBe(Number(balance) + 500);
  });

  it('keeps compensating while undos remain, newest first', async () => {
    const saga = await h.record('user-123', 'item-sword', 1, 100);
    const granted = await h.forward(saga, ['user_validation', 'item_grant']);
    const stock = await stockOf(h.app.db, 'item-sword');
    const failed = moved(
      await h.runner.takeOver(granted, {
        step: null,
        code: 'MANUAL_COMPENSATION',
        message: 'test',
      }),
    );
    expect(failed.status).toBe('compensating');
    const first = moved(await h.runner.undo(failed, h.steps.get('item_grant')));
    expect(first).toMatchObject({ status: 'compensating', compensated: ['item_grant'] });
    expect(await stockOf(h.app.db, 'item-sword')).toBe(stock + 1);
    const last = moved(await h.runner.undo(first, h.steps.get('user_validation')));
    expect(last).toMatchObject({
      status: 'compensated',
      compensated: ['item_grant', 'user_validation'],
    });
  });

  it('undoes a saga running past SAGA_TIMEOUT_MS before its pivot, without running the step', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20);
    const validated = await h.forward(saga, ['user_validation']);
    await h.app.db.query(
      `UPDATE saga_states SET created_at = now() - interval '1 hour' WHERE transaction_id = $1`,
      [saga.context.transactionId],
    );
    const old = { ...validated, startedAt: new Date(Date.now() - 3_600_000) };
    const stock = await stockOf(h.app.db, 'item-potion');
    const after = moved(await h.runner.advance(old, h.steps.get('item_grant')));
    expect(after.status).toBe('compensating');
    expect(after.error?.code).toBe('SAGA_TIMEOUT');
    expect(await stockOf(h.app.db, 'item-potion')).toBe(stock);
  });

  it('goes on past the pivot however old the saga is', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20);
    const logged = await h.forward(saga, ['user_validation', 'item_grant', 'log_record']);
    const old = { ...logged, startedAt: new Date(Date.now() - 3_600_000) };
    const after = moved(await h.runner.advance(old, h.steps.get('notification')));
    expect(after.status).toBe('completed');
  });

  it('tells a driver holding an older version that the saga moved on, and changes nothing', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20);
    await h.forward(saga, ['user_validation']);
    const balance = await balanceOf(h.app.db, 'user-123');
    // `saga` is still at version 0: its user_validation already committed elsewhere.
    expect(await h.runner.advance(saga, h.steps.get('user_validation'))).toEqual({ kind: 'stale' });
    expect(
      await h.runner.undo(
        { ...saga, status: 'compensating', completed: ['user_validation'] },
        h.steps.get('user_validation'),
      ),
    ).toEqual({ kind: 'stale' });
    expect(
      await h.runner.takeOver(saga, { step: null, code: 'MANUAL_COMPENSATION', message: 'test' }),
    ).toEqual({ kind: 'stale' });
    expect(await balanceOf(h.app.db, 'user-123')).toBe(balance);
    expect(await h.row(saga)).toMatchObject({ status: 'in_progress', version: 1 });
  });

  it('fails a take-over of a saga with nothing to undo', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20);
    const after = moved(
      await h.runner.takeOver(saga, { step: null, code: 'MANUAL_COMPENSATION', message: 'test' }),
    );
    expect(after).toMatchObject({ status: 'failed', error: { code: 'MANUAL_COMPENSATION' } });
    expect(await h.row(saga)).toMatchObject({ status: 'failed', version: 1 });
  });

  it('gives every saga of concurrent steps its own outcome: refusals hold nobody back, one driver of a saga wins', async () => {
    const rich = await Promise.all(
      Array.from({ length: 6 }, () => h.record('user-123', 'item-potion', 1, 20)),
    );
    const poor = await Promise.all(
      Array.from({ length: 3 }, () => h.record('user-456', 'item-sword', 1, 100)),
    );
    const twice = await h.record('user-123', 'item-potion', 1, 20);
    const balance = Number(await balanceOf(h.app.db, 'user-123'));
    const moves = await Promise.all(
      [...rich, ...poor, twice, twice].map((saga) =>
        h.runner.advance(saga, h.steps.get('user_validation')),
      ),
    );
    const statuses = moves.map((move) => (move.kind === 'moved' ? move.saga.status : move.kind));
    expect(statuses.slice(0, 6)).toEqual(Array(6).fill('in_progress'));
    // user-456 holds 50.00: each 100.00 purchase is refused on its own.
    expect(statuses.slice(6, 9)).toEqual(Array(3).fill('failed'));
    expect(statuses.slice(9).sort()).toEqual(['in_progress', 'stale']);
    expect(Number(await balanceOf(h.app.db, 'user-123'))).toBe(balance - 7 * 20);
    expect(await balanceOf(h.app.db, 'user-456')).toBe('50.00');
  });
});

describe('StepRunner when steps keep failing', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await harness({
      SAGA_FAULTS: 'fail:item_grant,fail:notification,fail:compensation:user_validation',
      STEP_MAX_ATTEMPTS: '2',
      STEP_RETRY_BASE_MS: '1',
      STEP_RETRY_MAX_MS: '2',
    });
  });

  afterAll(async () => {
    await h?.app.close();
  });

  it('compensates a step failing past its retries before the pivot, and fails the saga when the undo keeps failing', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20);
    const validated = await h.forward(saga, ['user_validation']);
    const after = moved(await h.runner.advance(validated, h.steps.get('item_grant')));
    expect(after).toMatchObject({ status: 'compensating', error: { code: 'STEP_FAILED' } });
    expect(await ownedOf(h.app.db, 'user-123', 'item-potion')).toBe(0);

    const undo = moved(await h.runner.undo(after, h.steps.get('user_validation')));
    expect(undo).toMatchObject({
      status: 'failed',
      compensated: [],
      error: { step: 'user_validation', code: 'COMPENSATION_FAILED' },
    });
    expect(await h.row(saga)).toMatchObject({
      status: 'failed',
      error_code: 'COMPENSATION_FAILED',
    });
    expect(await h.results(saga)).toEqual([
      { step: 'user_validation', kind: 'forward', status: 'success' },
      { step: 'item_grant', kind: 'forward', status: 'failed' },
      { step: 'user_validation', kind: 'compensation', status: 'failed' },
    ]);
  });

  it('gives up a step failing past the pivot and completes the purchase', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20);
    // item_grant always fails here: the steps up to the pivot are recorded as committed.
    await h.app.db.query(
      `INSERT INTO saga_step_results (transaction_id, step, kind, status, data, duration_ms)
       SELECT $1, s, 'forward', 'success', '{}'::jsonb, 0
         FROM unnest(ARRAY['user_validation', 'item_grant', 'log_record']) AS s`,
      [saga.context.transactionId],
    );
    await h.app.db.query(
      `UPDATE saga_states SET status = 'in_progress', version = 3 WHERE transaction_id = $1`,
      [saga.context.transactionId],
    );
    const logged: SagaRecord = {
      ...saga,
      status: 'in_progress',
      version: 3,
      completed: ['user_validation', 'item_grant', 'log_record'],
    };
    const after = moved(await h.runner.advance(logged, h.steps.get('notification')));
    expect(after.status).toBe('completed');
    const { rows } = await h.app.db.query<{ status: string }>(
      'SELECT status FROM notifications WHERE transaction_id = $1',
      [saga.context.transactionId],
    );
    expect(rows).toEqual([{ status: 'failed' }]);
    expect((await h.results(saga)).at(-1)).toEqual({
      step: 'notification',
      kind: 'forward',
      status: 'failed',
    });
  });
});

describe('Choreography participants on the real store', () => {
  let h: Harness;
  let user: UserParticipant;
  let item: ItemParticipant;

  beforeAll(async () => {
    h = await harness();
    user = h.app.app.get(UserParticipant);
    item = h.app.app.get(ItemParticipant);
  });

  afterAll(async () => {
    await h?.app.close();
  });

  function envelope(
    saga: SagaRecord,
    eventType: SagaEventEnvelope['eventType'],
    data: Record<string, unknown> = {},
  ): SagaEventEnvelope {
    return {
      eventId: crypto.randomUUID(),
      eventType,
      transactionId: saga.context.transactionId,
      causationId: null,
      occurredAt: new Date().toISOString(),
      saga: snapshotOf(saga),
      data,
    };
  }

  /** The events written while handling `event`, by type. */
  async function raisedBy(event: SagaEventEnvelope): Promise<string[]> {
    const { rows } = await h.app.db.query<{ event_type: string }>(
      `SELECT event_type FROM outbox_events WHERE payload->>'causationId' = $1 ORDER BY id`,
      [event.eventId],
    );
    return rows.map((row) => row.event_type);
  }

  it('run their step on the event before it, write what it raises with that event as cause, and publish it', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20, 'choreography');
    const event = envelope(saga, 'PurchaseInitiated');
    await user.onPurchaseInitiated(event);
    expect(await raisedBy(event)).toEqual(['UserValidated']);
    // Published: the other participants take the saga the rest of the way.
    await eventually(
      async () => ((await h.row(saga)).status === 'completed' ? true : undefined),
      10_000,
      'the choreography to complete the saga',
    );
  });

  it('write a refusal and the compensation it starts, before the pivot', async () => {
    const saga = await h.record('user-123', 'item-out-of-stock', 1, 500, 'choreography');
    const validated = await h.forward(saga, ['user_validation']);
    const event = envelope(validated, 'UserValidated');
    await item.onUserValidated(event);
    expect(await raisedBy(event)).toEqual(['ItemGrantFailed', 'CompensationInitiated']);
    await eventually(
      async () => ((await h.row(saga)).status === 'compensated' ? true : undefined),
      10_000,
      'the choreography to compensate the saga',
    );
  });

  it.each<[string, (saga: SagaRecord) => SagaRecord]>([
    [
      'a saga of the other pattern',
      (saga) => ({ ...saga, context: { ...saga.context, pattern: 'orchestration' } }),
    ],
    ['a finished saga', (saga) => ({ ...saga, status: 'failed' })],
    ['a step already done', (saga) => ({ ...saga, completed: ['user_validation'] })],
  ])('ignore an event about %s', async (_name, change) => {
    const saga = await h.record('user-123', 'item-potion', 1, 20, 'choreography');
    const balance = await balanceOf(h.app.db, 'user-123');
    const event = envelope(change(saga), 'PurchaseInitiated');
    await user.onPurchaseInitiated(event);
    expect(await raisedBy(event)).toEqual([]);
    expect(await balanceOf(h.app.db, 'user-123')).toBe(balance);
    expect(await h.row(saga)).toMatchObject({ status: 'pending', version: 0 });
  });

  it('change nothing when an event comes twice', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20, 'choreography');
    const balance = Number(await balanceOf(h.app.db, 'user-123'));
    const event = envelope(saga, 'PurchaseInitiated');
    await user.onPurchaseInitiated(event);
    await user.onPurchaseInitiated({ ...event, eventId: crypto.randomUUID() });
    await eventually(
      async () => ((await h.row(saga)).status === 'completed' ? true : undefined),
      10_000,
      'the saga to complete',
    );
    expect(Number(await balanceOf(h.app.db, 'user-123'))).toBe(balance - 20);
    expect(await h.results(saga)).toHaveLength(4);
  });

  it('undo their step only when it is the next to undo', async () => {
    const saga = await h.record('user-123', 'item-sword', 1, 100, 'choreography');
    const granted = await h.forward(saga, ['user_validation', 'item_grant']);
    const compensating = moved(
      await h.runner.takeOver(granted, {
        step: null,
        code: 'MANUAL_COMPENSATION',
        message: 'test',
      }),
    );
    const event = envelope(compensating, 'CompensationInitiated', {
      remaining: ['item_grant', 'user_validation'],
    });
    await user.onCompensation(event);
    expect(await raisedBy(event)).toEqual([]);
    expect(await h.row(saga)).toMatchObject({
      status: 'compensating',
      version: compensating.version,
    });

    await item.onCompensation(event);
    expect(await raisedBy(event)).toEqual(['CompensationCompleted']);
    await eventually(
      async () => ((await h.row(saga)).status === 'compensated' ? true : undefined),
      10_000,
      'the choreography to finish the compensation',
    );
  });
});

describe('The engines on the real store', () => {
  let h: Harness;
  let orchestrator: Orchestrator;
  let choreography: ChoreographyEngine;
  const reason = { step: null, code: 'MANUAL_COMPENSATION', message: 'test' };

  beforeAll(async () => {
    h = await harness();
    orchestrator = h.app.app.get(Orchestrator);
    choreography = h.app.app.get(ChoreographyEngine);
  });

  afterAll(async () => {
    await h?.app.close();
  });

  /** A saga whose compensation gave up after `steps` committed: failed, COMPENSATION_FAILED. */
  async function compensationFailed(pattern: SagaPattern, steps: StepName[]): Promise<SagaRecord> {
    const saga = await h.record('user-123', 'item-sword', 1, 100, pattern);
    const done = await h.forward(saga, steps);
    const error = { step: steps[0], code: 'COMPENSATION_FAILED', message: 'gave up' };
    await h.app.db.query(
      `UPDATE saga_states SET status = 'failed', version = version + 1, error_code = $2,
         error_step = $3, error_message = $4 WHERE transaction_id = $1`,
      [saga.context.transactionId, error.code, error.step, error.message],
    );
    return { ...done, status: 'failed', version: done.version + 1, error };
  }

  async function settled(saga: SagaRecord, status: string): Promise<void> {
    await eventually(
      async () => ((await h.row(saga)).status === status ? true : undefined),
      10_000,
      `saga to be ${status}`,
    );
  }

  it.each<SagaPattern>(['orchestration', 'choreography'])(
    '%s: an admin re-drives a compensation that gave up, to the end',
    async (pattern) => {
      const engine = pattern === 'orchestration' ? orchestrator : choreography;
      const saga = await compensationFailed(pattern, ['user_validation', 'item_grant']);
      const balance = Number(await balanceOf(h.app.db, 'user-123'));
      await expect(engine.compensate(saga, reason)).resolves.toBe('done');
      await settled(saga, 'compensated');
      expect(Number(await balanceOf(h.app.db, 'user-123'))).toBe(balance + 100);
      // Settled now, with the give-up's code kept as its history.
      expect(await h.row(saga)).toMatchObject({ error_code: 'COMPENSATION_FAILED' });
    },
  );

  it.each<SagaPattern>(['orchestration', 'choreography'])(
    '%s: an admin take-over of a saga that moved meanwhile is refused as stale',
    async (pattern) => {
      const engine = pattern === 'orchestration' ? orchestrator : choreography;
      const saga = await h.record('user-123', 'item-potion', 1, 20, pattern);
      await h.forward(saga, ['user_validation']);
      await expect(engine.compensate(saga, reason)).resolves.toBe('stale');
      expect(await h.row(saga)).toMatchObject({ status: 'in_progress', version: 1 });
    },
  );

  it('orchestration: a re-drive with nothing left to undo changes nothing', async () => {
    const saga = await compensationFailed('orchestration', []);
    await expect(orchestrator.compensate(saga, reason)).resolves.toBe('done');
    expect(await h.row(saga)).toMatchObject({ status: 'failed', version: saga.version });
  });

  it.each<SagaPattern>(['orchestration', 'choreography'])(
    '%s: recovery goes on from the last committed step, forward or back',
    async (pattern) => {
      const engine = pattern === 'orchestration' ? orchestrator : choreography;
      const forward = await h.forward(await h.record('user-123', 'item-potion', 1, 20, pattern), [
        'user_validation',
      ]);
      await engine.resume(forward);
      await settled(forward, 'completed');

      const back = moved(
        await h.runner.takeOver(
          await h.forward(await h.record('user-123', 'item-potion', 1, 20, pattern), [
            'user_validation',
          ]),
          reason,
        ),
      );
      await engine.resume(back);
      await settled(back, 'compensated');
    },
  );

  it('choreography: recovery of a saga with every step done raises nothing', async () => {
    const saga = await h.record('user-123', 'item-potion', 1, 20, 'choreography');
    const done = await h.forward(saga, ['user_validation', 'item_grant', 'log_record']);
    const { rows: before } = await h.app.db.query(
      'SELECT count(*)::int AS n FROM outbox_events WHERE aggregate_id = $1',
      [saga.context.transactionId],
    );
    await choreography.resume({ ...done, completed: [...done.completed, 'notification'] });
    const { rows: after } = await h.app.db.query(
      'SELECT count(*)::int AS n FROM outbox_events WHERE aggregate_id = $1',
      [saga.context.transactionId],
    );
    expect(after).toEqual(before);
  });
});
