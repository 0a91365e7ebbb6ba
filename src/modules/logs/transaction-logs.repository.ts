import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import { ReportingTransactionHost } from '../../database/work-pools';
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
  constructor(
    private readonly tx: TransactionHost,
    private readonly reporting: ReportingTransactionHost,
  ) {}

  /**
   * One log per saga, for several sagas in one statement: a saga already logged keeps (and
   * answers) its existing row. Per log in order: its id and time, or undefined if the existing
   * row could not be read (a concurrent insert not committed yet).
   */
  async insertManyCompleted(
    logs: readonly {
      logId: string;
      transactionId: string;
      userId: string;
      itemId: string;
      quantity: number;
      price: string;
      data: Record<string, unknown>;
    }[],
  ): Promise<({ log_id: string; created_at: Date } | undefined)[]> {
    const rows = await this.tx.query<{ log_id: string | null; created_at: Date | null }>(
      `WITH req AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(ord int, log_id varchar,
           transaction_id varchar, user_id varchar, item_id varchar, quantity int, price numeric,
           log_data jsonb)
       ),
       inserted AS (
         INSERT INTO transaction_logs (log_id, transaction_id, user_id, item_id, quantity, price, status, log_data)
         SELECT log_id, transaction_id, user_id, item_id, quantity, price, 'completed', log_data
         FROM req ORDER BY transaction_id
         ON CONFLICT (transaction_id) DO NOTHING
         RETURNING log_id, transaction_id, created_at
       )
       -- The logs already there are read per row through the unique index (a subquery per row
       -- cannot turn into a scan of the whole table, whatever the planner guesses the batch is).
       SELECT COALESCE(i.log_id, (SELECT t.log_id FROM transaction_logs t
                                  WHERE t.transaction_id = req.transaction_id)) AS log_id,
              COALESCE(i.created_at, (SELECT t.created_at FROM transaction_logs t
                                      WHERE t.transaction_id = req.transaction_id)) AS created_at
       FROM req
       LEFT JOIN inserted i ON i.transaction_id = req.transaction_id
       ORDER BY req.ord`,
      [
        JSON.stringify(
          logs.map((log, ord) => ({
            ord,
            log_id: log.logId,
            transaction_id: log.transactionId,
            user_id: log.userId,
            item_id: log.itemId,
            quantity: log.quantity,
            price: log.price,
            log_data: log.data,
          })),
        ),
      ],
    );
    return rows.map((row) =>
      row.log_id === null || row.created_at === null
        ? undefined
        : { log_id: row.log_id, created_at: row.created_at },
    );
  }

  markCompensated(transactionId: string): Promise<TransactionLogRow | undefined> {
    return this.tx.one<TransactionLogRow>(
      `UPDATE transaction_logs SET status = 'compensated', updated_at = now()
       WHERE transaction_id = $1 RETURNING *`,
      [transactionId],
    );
  }

  /** A report: a user's logs, newest first. */
  listByUser(userId: string, limit: number): Promise<TransactionLogRow[]> {
    return this.reporting.query<TransactionLogRow>(
      'SELECT * FROM transaction_logs WHERE user_id = $1 ORDER BY created_at DESC, log_id LIMIT $2',
      [userId, limit],
    );
  }
}
