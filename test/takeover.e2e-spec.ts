import type { Client } from 'pg';
import { balanceOf, ownedOf, stockOf } from './support/db-state';
import { ADMIN, startTestApp, TestApp } from './support/test-app';
import { eventually } from './support/wait';

type Pattern = 'orchestration' | 'choreography';

/**
 * Leaves a saga as a driver that died would: its committed steps and their effects written, its
 * lease expired, started an hour ago (past SAGA_TIMEOUT_MS). One transaction, so that recovery
 * never sees half of it.
 */
async function abandon(
  db: Client,
  saga: {
    id: string;
    pattern: Pattern;
    status: 'pending' | 'in_progress';
    userId: string;
    itemId: string;
    quantity: number;
    total: string;
    done: ('user_validation' | 'item_grant' | 'log_record')[];
  },
): Promise<void> {
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO saga_states (transaction_id, pattern, status, current_step, user_id, item_id,
       quantity, price, lease_owner, lease_expires_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'dead-instance', now() - interval '1 minute',
       now() - interval '1 hour')`,
    [
      saga.id,
      saga.pattern,
      saga.status,
      saga.done.at(-1) ?? null,
      saga.userId,
      saga.itemId,
      saga.quantity,
      saga.total,
    ],
  );
  for (const step of saga.done) {
    await db.query(
      `INSERT INTO saga_step_results (transaction_id, step, kind, status, data)
       VALUES ($1, $2, 'forward', 'success', '{}')`,
      [saga.id, step],
    );
  }
  if (saga.done.includes('user_validation')) {
    await db.query('UPDATE users SET balance = balance - $2 WHERE user_id = $1', [
      saga.userId,
      saga.total,
    ]);
  }
  if (saga.done.includes('item_grant')) {
    await db.query('UPDATE items SET stock = stock - $2 WHERE item_id = $1', [
      saga.itemId,
      saga.quantity,
    ]);
    await db.query(
      `INSERT INTO user_inventory (user_id, item_id, quantity) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, item_id) DO UPDATE SET quantity = user_inventory.quantity + $3`,
      [saga.userId, saga.itemId, saga.quantity],
    );
  }
  if (saga.done.includes('log_record')) {
    await db.query(
      `INSERT INTO transaction_logs (log_id, transaction_id, user_id, item_id, quantity, price, status)
       VALUES ($1, $2, $3, $4, $5, $6, 'completed')`,
      [`LOG_${saga.id}`, saga.id, saga.userId, saga.itemId, saga.quantity, saga.total],
    );
  }
  await db.query('COMMIT');
}

async function settled(t: TestApp, id: string): Promise<{ status: string; error_code: string }> {
  return eventually(
    async () => {
      const { rows } = await t.db.query<{ status: string; error_code: string }>(
        'SELECT status, error_code FROM saga_states WHERE transaction_id = $1',
        [id],
      );
      return ['completed', 'compensated', 'failed'].includes(rows[0].status) ? rows[0] : undefined;
    },
    20_000,
    `saga ${id} to settle`,
  );
}

describe('sagas abandoned by a dead instance are taken over in their own pattern', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ RECOVERY_POLL_MS: '100', OUTBOX_POLL_MS: '100' });
  });

  afterAll(async () => {
    await t.close();
  });

  it.each<Pattern>(['orchestration', 'choreography'])(
    '%s: past SAGA_TIMEOUT_MS before the pivot, the debit and the grant are undone',
    async (pattern) => {
      const id = `TXN_ABANDONED_${pattern}`;
      const before = {
        balance: await balanceOf(t.db, 'user-123'),
        stock: await stockOf(t.db, 'item-sword'),
        owned: await ownedOf(t.db, 'user-123', 'item-sword'),
      };
      await abandon(t.db, {
        id,
        pattern,
        status: 'in_progress',
        userId: 'user-123',
        itemId: 'item-sword',
        quantity: 2,
        total: '200.00',
        done: ['user_validation', 'item_grant'],
      });
      expect(await settled(t, id)).toEqual({ status: 'compensated', error_code: 'SAGA_TIMEOUT' });
      expect(await balanceOf(t.db, 'user-123')).toBe(before.balance);
      expect(await stockOf(t.db, 'item-sword')).toBe(before.stock);
      expect(await ownedOf(t.db, 'user-123', 'item-sword')).toBe(before.owned);
      const saga = await t.http.get(`/saga/${id}`).expect(200);
      expect(
        saga.body.saga.compensations.map((c: { step: string; status: string }) => [
          c.step,
          c.status,
        ]),
      ).toEqual([
        ['item_grant', 'success'],
        ['user_validation', 'success'],
      ]);
    },
  );

  it('a pending saga that never started is failed without effect', async () => {
    await abandon(t.db, {
      id: 'TXN_ABANDONED_pending',
      pattern: 'orchestration',
      status: 'pending',
      userId: 'user-456',
      itemId: 'item-potion',
      quantity: 1,
      total: '20.00',
      done: [],
    });
    expect(await settled(t, 'TXN_ABANDONED_pending')).toEqual({
      status: 'failed',
      error_code: 'SAGA_TIMEOUT',
    });
    expect(await balanceOf(t.db, 'user-456')).toBe('50.00');
  });

  it.each<Pattern>(['orchestration', 'choreography'])(
    '%s: past the pivot, the purchase is completed and notified',
    async (pattern) => {
      const id = `TXN_PAST_PIVOT_${pattern}`;
      await abandon(t.db, {
        id,
        pattern,
        status: 'in_progress',
        userId: 'user-123',
        itemId: 'item-potion',
        quantity: 1,
        total: '20.00',
        done: ['user_validation', 'item_grant', 'log_record'],
      });
      expect((await settled(t, id)).status).toBe('completed');
      const notification = await t.db.query(
        'SELECT status FROM notifications WHERE transaction_id = $1',
        [id],
      );
      // Recorded once (not delivered: no channel is configured).
      expect(notification.rows).toEqual([{ status: 'failed' }]);
    },
  );

  it('leaves the data reconciled', async () => {
    await eventually(
      async () => {
        const { rows } = await t.db.query<{ n: string }>(
          'SELECT count(*)::text AS n FROM outbox_pending',
        );
        return rows[0].n === '0' ? true : undefined;
      },
      10_000,
      'the outbox to drain',
    );
    const report = await t.http.get('/admin/integrity').set(ADMIN).expect(200);
    expect(report.body).toMatchObject({ clean: true, violations: 0 });
  });
});
