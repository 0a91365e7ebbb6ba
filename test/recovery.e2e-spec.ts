import { Client } from 'pg';
import { expectConservation } from './support/db-state';
import { startService } from './support/service-process';
import { createTestDatabase, TestDatabase } from './support/test-app';
import { eventually } from './support/wait';

/** Short leases and polls, so that recovery takes over within a second or two. */
const FAST_RECOVERY = {
  SAGA_LEASE_MS: '1000',
  RECOVERY_POLL_MS: '200',
  OUTBOX_LEASE_MS: '1000',
  OUTBOX_POLL_MS: '200',
  STEP_RETRY_BASE_MS: '1',
  STEP_RETRY_MAX_MS: '5',
};
const DEMO_START = {
  balances: { 'user-123': '1000.00', 'user-456': '50.00', 'user-suspended': '1000.00' },
  stock: { 'item-sword': 50, 'item-potion': 100, 'item-out-of-stock': 0, 'item-disabled': 10 },
};
const SWORD = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };
const OUT_OF_STOCK = { userId: 'user-123', itemId: 'item-out-of-stock', quantity: 1 };

const STEPS = ['user_validation', 'item_grant', 'log_record', 'notification'];
const SCENARIOS: { fault: string; body: typeof SWORD; outcome: 'completed' | 'compensated' }[] = [
  ...STEPS.flatMap((step) =>
    (['crash-before', 'crash-after'] as const).map((point) => ({
      fault: `${point}:${step}`,
      body: SWORD,
      outcome: 'completed' as const,
    })),
  ),
  {
    fault: 'crash-before:compensation:user_validation',
    body: OUT_OF_STOCK,
    outcome: 'compensated',
  },
  { fault: 'crash-after:compensation:user_validation', body: OUT_OF_STOCK, outcome: 'compensated' },
  // The log step keeps failing, so both committed steps are undone, item_grant first.
  ...(['crash-before', 'crash-after'] as const).map((point) => ({
    fault: `fail:log_record,${point}:compensation:item_grant`,
    body: SWORD,
    outcome: 'compensated' as const,
  })),
];

async function withClient<T>(url: string, work: (db: Client) => Promise<T>): Promise<T> {
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** Everything one saga left, to check against its outcome. */
async function expectConsistent(db: Client, outcome: 'completed' | 'compensated'): Promise<void> {
  const sagas = await db.query<{ transaction_id: string; status: string }>(
    'SELECT transaction_id, status FROM saga_states',
  );
  expect(sagas.rows.map((r) => r.status)).toEqual([outcome]);
  const id = sagas.rows[0].transaction_id;
  await expectConservation(db, DEMO_START);
  const logs = await db.query('SELECT status FROM transaction_logs WHERE transaction_id = $1', [
    id,
  ]);
  const notifications = await db.query(
    'SELECT status FROM notifications WHERE transaction_id = $1',
    [id],
  );
  const doubled = await db.query(
    `SELECT step, kind FROM saga_step_results WHERE transaction_id = $1 AND status = 'success'
     GROUP BY step, kind HAVING count(*) > 1`,
    [id],
  );
  expect(doubled.rows).toEqual([]);
  if (outcome === 'completed') {
    expect(logs.rows).toEqual([{ status: 'completed' }]);
    // Recorded once (not delivered: no channel is configured).
    expect(notifications.rows).toEqual([{ status: 'failed' }]);
  } else {
    expect(logs.rows).toEqual([]);
    expect(notifications.rows).toEqual([]);
    const balance = await db.query("SELECT balance::text FROM users WHERE user_id = 'user-123'");
    expect(balance.rows[0].balance).toBe('1000.00');
  }
}

describe.each(['orchestration', 'choreography'])('A process killed mid-saga (%s)', (pattern) => {
  it.concurrent.each(SCENARIOS)(
    '$fault: recovery ends it $outcome, exactly consistent',
    async ({ fault, body, outcome }) => {
      const database: TestDatabase = await createTestDatabase();
      try {
        const env = { ...FAST_RECOVERY, SAGA_PATTERN_MODE: pattern };
        const doomed = await startService(database.url, { ...env, SAGA_FAULTS: fault });
        const answer = doomed.http
          .post('/purchase')
          .send(body)
          .then(
            () => 'answered',
            () => 'connection lost',
          );
        const exit = await doomed.exited;
        expect(exit.signal).toBe('SIGKILL');
        expect(await answer).toBe('connection lost');

        const revived = await startService(database.url, env);
        try {
          await withClient(database.url, async (db) => {
            await eventually(
              async () => {
                const open = await db.query(
                  "SELECT 1 FROM saga_states WHERE status IN ('pending', 'in_progress', 'compensating')",
                );
                return open.rowCount === 0 ? true : undefined;
              },
              20_000,
              'recovery to finish the saga',
            );
            await expectConsistent(db, outcome);
          });
        } finally {
          await revived.kill('SIGTERM');
        }
      } finally {
        await database.drop();
      }
    },
  );
});
