import { Injectable } from '@nestjs/common';
import type { BatchOutcome } from '../../common/batch-queue';
import { timeOrderedId } from '../../common/time-ordered-id';
import { moneyToJson } from '../../common/money';
import { TransactionLogRow, TransactionLogsRepository } from './transaction-logs.repository';

export interface TransactionLogView {
  logId: string;
  transactionId: string;
  userId: string;
  itemId: string;
  quantity: number;
  price: number | null;
  status: string;
  step: string;
  createdAt: Date;
  updatedAt: Date;
  metadata: Record<string, unknown> | null;
}

function toView(row: TransactionLogRow): TransactionLogView {
  return {
    logId: row.log_id,
    transactionId: row.transaction_id,
    userId: row.user_id,
    itemId: row.item_id,
    quantity: row.quantity,
    price: moneyToJson(row.price),
    status: row.status,
    step: row.status === 'completed' ? 'purchase_completed' : 'purchase_compensated',
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: row.log_data,
  };
}

@Injectable()
export class TransactionLogsService {
  constructor(private readonly logs: TransactionLogsRepository) {}

  /** Records completed purchases, one log per transaction (a repeat answers the first log). */
  async recordPurchases(
    purchases: readonly {
      transactionId: string;
      userId: string;
      itemId: string;
      quantity: number;
      price: string;
      metadata: Record<string, unknown>;
    }[],
  ): Promise<BatchOutcome<{ logId: string; recordedAt: Date }>[]> {
    const rows = await this.logs.insertManyCompleted(
      purchases.map((purchase) => ({
        logId: `LOG_${timeOrderedId()}`,
        transactionId: purchase.transactionId,
        userId: purchase.userId,
        itemId: purchase.itemId,
        quantity: purchase.quantity,
        price: purchase.price,
        data: purchase.metadata,
      })),
    );
    return rows.map((row, index) =>
      row === undefined
        ? {
            kind: 'error',
            error: new Error(`Log of ${purchases[index].transactionId} vanished`),
          }
        : { kind: 'value', value: { logId: row.log_id, recordedAt: row.created_at } },
    );
  }

  async compensatePurchase(transactionId: string): Promise<{ logId: string | null }> {
    const row = await this.logs.markCompensated(transactionId);
    return { logId: row?.log_id ?? null };
  }

  async listByUser(userId: string, limit = 100): Promise<TransactionLogView[]> {
    return (await this.logs.listByUser(userId, limit)).map(toView);
  }
}
