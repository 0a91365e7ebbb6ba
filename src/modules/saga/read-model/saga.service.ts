import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../../../common/errors/domain-error';
import { moneyToJson } from '../../../common/money';
import type { SagaPattern } from '../../../config/configuration';
import { TransactionHost } from '../../../database/transaction-host';
import { LoadedSaga, SagaViewCache } from './saga-view.cache';
import { decodeSagaView, encodeSagaView } from './saga-view.codec';
import { SagaView, toSagaView } from './saga.mapper';
import { SagaRepository } from '../core/saga.repository';
import { isSettled, type SagaStatus } from '../core/saga';

export interface SagaHistoryEntry {
  transactionId: string;
  status: SagaStatus;
  purchaseData: { userId: string; itemId: string; quantity: number; price: number | null };
  startedAt: Date;
  completedAt?: Date;
  failedAt?: Date;
  stepsCompleted: number;
  compensationsExecuted: number;
}

export function sagaNotFound(transactionId: string): NotFoundError {
  return new NotFoundError('SAGA_NOT_FOUND', `Saga not found: ${transactionId}`);
}

/** Reading sagas: their views (through the cache) and a user's history. */
@Injectable()
export class SagaService {
  constructor(
    private readonly sagas: SagaRepository,
    private readonly viewCache: SagaViewCache,
    private readonly tx: TransactionHost,
  ) {}

  /** A saga's view. */
  async get(transactionId: string): Promise<SagaView> {
    const view = decodeSagaView(await this.getJson(transactionId), transactionId);
    if (view === undefined) throw new Error(`The view of saga ${transactionId} does not decode`);
    return view;
  }

  /**
   * A saga's view as JSON text, read through the cache (never inside a transaction: it may not
   * commit).
   */
  async getJson(transactionId: string): Promise<string> {
    const load = () => this.load(transactionId);
    const text = this.tx.inTransaction
      ? await load().then((loaded) =>
          loaded === undefined ? undefined : encodeSagaView(loaded.view),
        )
      : await this.viewCache.read(transactionId, load);
    if (text === undefined) throw sagaNotFound(transactionId);
    return text;
  }

  /** The row and its steps from one snapshot, so the view matches the version it is cached at. */
  private async load(transactionId: string): Promise<LoadedSaga | undefined> {
    const found = await this.sagas.findWithSteps(transactionId);
    if (found === undefined) return undefined;
    const { row, steps, notification, notificationRevision } = found;
    return {
      version: row.version,
      notificationRevision,
      view: toSagaView(row, steps, notification),
      settled: isSettled({ status: row.status, errorCode: row.error_code }),
    };
  }

  async history(userId: string, pattern: SagaPattern): Promise<SagaHistoryEntry[]> {
    const rows = await this.sagas.listByUser(userId, pattern, 100);
    return rows.map((row) => {
      const entry: SagaHistoryEntry = {
        transactionId: row.transaction_id,
        status: row.status,
        purchaseData: {
          userId: row.user_id,
          itemId: row.item_id,
          quantity: row.quantity,
          price: moneyToJson(row.price),
        },
        startedAt: row.created_at,
        stepsCompleted: row.steps_completed,
        compensationsExecuted: row.compensations_executed,
      };
      if (row.completed_at !== null) entry.completedAt = row.completed_at;
      if (row.failed_at !== null) entry.failedAt = row.failed_at;
      return entry;
    });
  }
}
