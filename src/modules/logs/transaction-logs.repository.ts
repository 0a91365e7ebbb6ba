import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import type { TransactionLogStatus } from './transaction-log.entity';

export interface TransactionLogRow {
  log_id: string;
  transaction_id: string;
  user_id: string;
  item_id: string;
  quantity: number;
  price: string;
  status: TransactionLogStatus;
  log_data: Record<string, unknown> | null;
  created_at: Date;
  updated_at: Date;
}

@Injectable()
export class TransactionLogsRepository {
  constructor(private readonly tx: TransactionHost) {}

  /** One log per saga: a second insert for the same transaction returns the existing row. */
  async insertCompleted(log: {
    logId: string;
    transactionId: string;
    userId: string;
    itemId: string;
    quantity: number;
    price: string;
    data: Record<string, unknown>;
  }): Promise<TransactionLogRow> {
    const inserted = await this.tx.one<TransactionLogRow>(
      `INSERT INTO transaction_logs (log_id, transaction_id, user_id, item_id, quantity, price, status, log_data)
       VALUES ($1, $2, $3, $4, $5, $6, 'completed', $7)
       ON CONFLICT (transaction_id) DO NOTHING RETURNING *`,
      [log.logId, log.transactionId, log.userId, log.itemId, log.quantity, log.price, log.data],
    );
    if (inserted !== undefined) return inserted;
    const existing = await this.findByTransaction(log.transactionId);
    if (existing === undefined) throw new Error(`Log of ${log.transactionId} vanished`);
    return existing;
  }

  markCompensated(transactionId: string): Promise<TransactionLogRow | undefined> {
    return this.tx.one<TransactionLogRow>(
      `UPDATE transaction_logs SET status = 'compensated', updated_at = now()
       WHERE transaction_id = $1 RETURNING *`,
      [transactionId],
    );
  }

  findByTransaction(transactionId: string): Promise<TransactionLogRow | undefined> {
    return this.tx.one<TransactionLogRow>(
      'SELECT * FROM transaction_logs WHERE transaction_id = $1',
      [transactionId],
    );
  }

  listByUser(userId: string, limit: number): Promise<TransactionLogRow[]> {
    return this.tx.query<TransactionLogRow>(
      'SELECT * FROM transaction_logs WHERE user_id = $1 ORDER BY created_at DESC, log_id LIMIT $2',
      [userId, limit],
    );
  }
}
