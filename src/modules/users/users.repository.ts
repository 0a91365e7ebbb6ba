import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import type { UserStatus } from './user-status';

export interface UserRow {
  user_id: string;
  name: string;
  email: string | null;
  balance: string;
  credited_total: string;
  status: UserStatus;
  purchase_limit: string;
  created_at: Date;
  updated_at: Date;
}

export interface InventoryRow {
  item_id: string;
  name: string;
  quantity: number;
}

/**
 * One purchase's debit as decided within its batch: `debited`, or refused (the row as the debit
 * saw it: `available` is what was left after the batch's earlier debits of the same user), or
 * `blocked` behind an earlier refused debit of the same user (it must be decided again later).
 */
export interface DebitDecision {
  found: boolean;
  status: UserStatus | null;
  purchase_limit: string | null;
  available: string | null;
  debited: boolean;
  blocked: boolean;
  balance_before: string | null;
  balance_after: string | null;
}

@Injectable()
export class UsersRepository {
  constructor(private readonly tx: TransactionHost) {}

  findById(userId: string): Promise<UserRow | undefined> {
    return this.tx.one<UserRow>('SELECT * FROM users WHERE user_id = $1', [userId]);
  }

  findInventory(userId: string): Promise<InventoryRow[]> {
    return this.tx.query<InventoryRow>(
      `SELECT ui.item_id, i.name, ui.quantity FROM user_inventory ui
       JOIN items i ON i.item_id = ui.item_id
       WHERE ui.user_id = $1 AND ui.quantity > 0 ORDER BY ui.item_id`,
      [userId],
    );
  }

  /** Inserts a user (its starting balance is its first credit); undefined when the id is taken. */
  insert(user: {
    userId: string;
    name: string;
    email: string | null;
    balance: string;
    status: UserStatus;
    purchaseLimit: string;
  }): Promise<UserRow | undefined> {
    return this.tx.one<UserRow>(
      `INSERT INTO users (user_id, name, email, balance, credited_total, status, purchase_limit)
       VALUES ($1, $2, $3, $4, $4, $5, $6) ON CONFLICT (user_id) DO NOTHING RETURNING *`,
      [user.userId, user.name, user.email, user.balance, user.status, user.purchaseLimit],
    );
  }

  /** Money from outside the saga (admin top-up): recorded in the ledger with the balance. */
  credit(userId: string, amount: string): Promise<UserRow | undefined> {
    return this.tx.one<UserRow>(
      `UPDATE users SET balance = balance + $2, credited_total = credited_total + $2,
         updated_at = now()
       WHERE user_id = $1 RETURNING *`,
      [userId, amount],
    );
  }

  updateStatus(userId: string, status: UserStatus): Promise<UserRow | undefined> {
    return this.tx.one<UserRow>(
      `UPDATE users SET status = $2, updated_at = now() WHERE user_id = $1 RETURNING *`,
      [userId, status],
    );
  }

  /** Gives back a debit (compensation): the ledger is untouched, the money never left it. */
  refund(userId: string, amount: string): Promise<UserRow | undefined> {
    return this.tx.one<UserRow>(
      `UPDATE users SET balance = balance + $2, updated_at = now() WHERE user_id = $1 RETURNING *`,
      [userId, amount],
    );
  }

  /** Adds to (or, with a negative quantity, takes from) the user's inventory. */
  async addToInventory(userId: string, itemId: string, quantity: number): Promise<number> {
    const row = await this.tx.one<{ quantity: number }>(
      `INSERT INTO user_inventory (user_id, item_id, quantity) VALUES ($1, $2, GREATEST($3, 0))
       ON CONFLICT (user_id, item_id)
       DO UPDATE SET quantity = GREATEST(user_inventory.quantity + $3, 0), updated_at = now()
       RETURNING quantity`,
      [userId, itemId, quantity],
    );
    return row?.quantity ?? 0;
  }

  /**
   * Adds several purchases' units to inventories in one statement (rows written in key order);
   * answers, per purchase in order, how many the user owned right after its own units.
   */
  async addManyToInventory(
    grants: readonly { userId: string; itemId: string; quantity: number }[],
  ): Promise<number[]> {
    const rows = await this.tx.query<{ owned: number }>(
      `WITH req AS (
         SELECT r.user_id, r.item_id, r.quantity, r.ord
         FROM unnest($1::varchar[], $2::varchar[], $3::int[]) WITH ORDINALITY AS r(user_id, item_id, quantity, ord)
       ),
       added AS (
         INSERT INTO user_inventory (user_id, item_id, quantity)
         SELECT user_id, item_id, sum(quantity) FROM req
         GROUP BY user_id, item_id ORDER BY user_id, item_id
         ON CONFLICT (user_id, item_id)
         DO UPDATE SET quantity = user_inventory.quantity + EXCLUDED.quantity, updated_at = now()
         RETURNING user_id, item_id, quantity
       )
       SELECT (a.quantity - sum(req.quantity) OVER (PARTITION BY req.user_id, req.item_id)
                          + sum(req.quantity) OVER (PARTITION BY req.user_id, req.item_id ORDER BY req.ord))::int AS owned
       FROM req JOIN added a ON a.user_id = req.user_id AND a.item_id = req.item_id
       ORDER BY req.ord`,
      [grants.map((g) => g.userId), grants.map((g) => g.itemId), grants.map((g) => g.quantity)],
    );
    return rows.map((row) => row.owned);
  }

  /**
   * Debits several purchases in one statement, each only if its user is active, within its
   * purchase limit and has the balance left after the earlier debits of the batch (in order):
   * the users' rows are locked in key order for this statement only, and parallel debits can
   * never overdraw. A debit queued behind a refused one of the same user is `blocked`: refusing
   * it too could be wrong (it may be smaller), so it is left for a later statement.
   */
  debitManyIfAllowed(
    debits: readonly { userId: string; amount: string }[],
  ): Promise<DebitDecision[]> {
    return this.tx.query<DebitDecision>(
      `WITH req AS (
         SELECT r.user_id, r.amount, r.ord
         FROM unnest($1::varchar[], $2::numeric[]) WITH ORDINALITY AS r(user_id, amount, ord)
       ),
       -- NO KEY UPDATE: rows that reference a user (inventory) check it with KEY SHARE, which
       -- this lock lets through, so they neither wait for it nor deadlock with it.
       locked AS (
         SELECT u.user_id, u.balance, u.status, u.purchase_limit FROM users u
         WHERE u.user_id = ANY($1::varchar[]) ORDER BY u.user_id FOR NO KEY UPDATE
       ),
       decided AS (
         SELECT req.ord, req.user_id, req.amount, l.user_id IS NOT NULL AS found, l.balance,
                l.status, l.purchase_limit,
                COALESCE(l.status = 'active'
                         AND (l.purchase_limit = 0 OR req.amount <= l.purchase_limit), false) AS eligible
         FROM req LEFT JOIN locked l ON l.user_id = req.user_id
       ),
       running AS (
         SELECT d.*, sum(CASE WHEN d.eligible THEN d.amount ELSE 0 END)
                       OVER (PARTITION BY d.user_id ORDER BY d.ord) AS spent
         FROM decided d
       ),
       debited AS (
         UPDATE users u SET balance = u.balance - g.total, updated_at = now()
         FROM (SELECT user_id, sum(amount) AS total FROM running
               WHERE eligible AND spent <= balance GROUP BY user_id) g
         WHERE u.user_id = g.user_id AND u.user_id = ANY($1::varchar[])
         RETURNING u.user_id
       )
       SELECT r.found, r.status, r.purchase_limit,
              (r.balance - r.spent + CASE WHEN r.eligible THEN r.amount ELSE 0 END)::text AS available,
              (r.eligible AND r.spent <= r.balance) AS debited,
              (r.eligible AND r.spent - r.amount > r.balance) AS blocked,
              CASE WHEN r.eligible AND r.spent <= r.balance
                   THEN (r.balance - r.spent + r.amount)::text END AS balance_before,
              CASE WHEN r.eligible AND r.spent <= r.balance
                   THEN (r.balance - r.spent)::text END AS balance_after
       FROM running r ORDER BY r.ord`,
      [debits.map((d) => d.userId), debits.map((d) => d.amount)],
    );
  }
}
