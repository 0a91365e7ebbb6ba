import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import type { UserStatus } from './user.entity';

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

/** Debit outcome: the new balance, or the user's row as it stood when the debit was refused. */
export type DebitResult =
  | { debited: true; balanceBefore: string; balanceAfter: string }
  | { debited: false; user: Pick<UserRow, 'balance' | 'status' | 'purchase_limit'> | undefined };

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
   * Debits `amount` in one statement, only if the user is active, within its purchase limit and
   * has the balance: the row lock is held only for this statement, and parallel debits can never
   * overdraw. When refused, returns the row as read, for the caller to name the reason.
   */
  async debitIfAllowed(userId: string, amount: string): Promise<DebitResult> {
    const row = await this.tx.one<{
      balance: string;
      status: UserStatus;
      purchase_limit: string;
      balance_before: string | null;
      balance_after: string | null;
    }>(
      `WITH debit AS (
         UPDATE users SET balance = balance - $2, updated_at = now()
         WHERE user_id = $1 AND status = 'active' AND balance >= $2
           AND (purchase_limit = 0 OR $2 <= purchase_limit)
         RETURNING balance
       )
       SELECT u.balance, u.status, u.purchase_limit,
              (SELECT balance + $2 FROM debit) AS balance_before,
              (SELECT balance FROM debit) AS balance_after
       FROM users u WHERE u.user_id = $1`,
      [userId, amount],
    );
    if (row === undefined) return { debited: false, user: undefined };
    if (row.balance_after !== null && row.balance_before !== null) {
      return { debited: true, balanceBefore: row.balance_before, balanceAfter: row.balance_after };
    }
    // The CTE's read may predate a concurrent change that made the debit fail: read again.
    const current = await this.tx.one<Pick<UserRow, 'balance' | 'status' | 'purchase_limit'>>(
      'SELECT balance, status, purchase_limit FROM users WHERE user_id = $1',
      [userId],
    );
    return { debited: false, user: current };
  }
}
