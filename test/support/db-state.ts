import type { Client } from 'pg';

export async function balanceOf(db: Client, userId: string): Promise<string> {
  const { rows } = await db.query<{ balance: string }>(
    'SELECT balance::text FROM users WHERE user_id = $1',
    [userId],
  );
  return rows[0].balance;
}

export async function stockOf(db: Client, itemId: string): Promise<number> {
  const { rows } = await db.query<{ stock: number }>('SELECT stock FROM items WHERE item_id = $1', [
    itemId,
  ]);
  return rows[0].stock;
}

export async function ownedOf(db: Client, userId: string, itemId: string): Promise<number> {
  const { rows } = await db.query<{ quantity: number }>(
    'SELECT quantity FROM user_inventory WHERE user_id = $1 AND item_id = $2',
    [userId, itemId],
  );
  return rows[0]?.quantity ?? 0;
}

export async function countRows(
  db: Client,
  table: 'saga_states' | 'transaction_logs' | 'notifications',
  where = 'TRUE',
  params: unknown[] = [],
): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${table} WHERE ${where}`,
    params,
  );
  return Number(rows[0].n);
}

/**
 * Guarantee 1 of the contract over the whole database, given the starting figures: balances and
 * stock equal the start minus completed sagas, one completed log per completed saga, nothing
 * left by any other saga, and inventory equal to what completed sagas granted.
 */
export async function expectConservation(
  db: Client,
  start: { balances: Record<string, string>; stock: Record<string, number> },
): Promise<void> {
  const balances = await db.query<{ user_id: string; balance: string; spent: string }>(
    `SELECT u.user_id, u.balance::text, COALESCE(sum(s.price) FILTER (WHERE s.status = 'completed'), 0)::text AS spent
     FROM users u LEFT JOIN saga_states s ON s.user_id = u.user_id
     WHERE u.user_id = ANY($1) GROUP BY u.user_id, u.balance`,
    [Object.keys(start.balances)],
  );
  for (const row of balances.rows) {
    const expected = (Number(start.balances[row.user_id]) * 100 - Number(row.spent) * 100) / 100;
    expect({ user: row.user_id, balance: Number(row.balance) }).toEqual({
      user: row.user_id,
      balance: expected,
    });
  }
  const stock = await db.query<{ item_id: string; stock: number; sold: string }>(
    `SELECT i.item_id, i.stock, COALESCE(sum(s.quantity) FILTER (WHERE s.status = 'completed'), 0)::text AS sold
     FROM items i LEFT JOIN saga_states s ON s.item_id = i.item_id
     WHERE i.item_id = ANY($1) GROUP BY i.item_id, i.stock`,
    [Object.keys(start.stock)],
  );
  for (const row of stock.rows) {
    expect({ item: row.item_id, stock: row.stock }).toEqual({
      item: row.item_id,
      stock: start.stock[row.item_id] - Number(row.sold),
    });
  }
  const logs = await db.query<{ status: string; log_status: string | null; n: string }>(
    `SELECT s.status, l.status AS log_status, count(*)::text AS n
     FROM saga_states s LEFT JOIN transaction_logs l ON l.transaction_id = s.transaction_id
     GROUP BY s.status, l.status`,
  );
  for (const row of logs.rows) {
    if (row.status === 'completed') expect(row.log_status).toBe('completed');
    else expect(row.log_status === null || row.log_status === 'compensated').toBe(true);
  }
  const inventory = await db.query<{
    user_id: string;
    item_id: string;
    quantity: number;
    granted: string;
  }>(
    `SELECT ui.user_id, ui.item_id, ui.quantity,
            COALESCE((SELECT sum(s.quantity) FROM saga_states s WHERE s.user_id = ui.user_id
                      AND s.item_id = ui.item_id AND s.status = 'completed'), 0)::text AS granted
     FROM user_inventory ui`,
  );
  for (const row of inventory.rows) {
    expect({ ...row, granted: Number(row.granted) }).toEqual({ ...row, granted: row.quantity });
  }
}

/** No step of any saga succeeded twice (forward or undo). */
export async function expectNoStepTwice(db: Client): Promise<void> {
  const doubled = await db.query(
    `SELECT transaction_id, step, kind FROM saga_step_results WHERE status = 'success'
     GROUP BY transaction_id, step, kind HAVING count(*) > 1`,
  );
  expect(doubled.rows).toEqual([]);
}
