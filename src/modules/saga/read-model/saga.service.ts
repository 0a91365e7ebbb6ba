import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError } from '../../../common/errors/domain-error';
import { moneyToJson } from '../../../common/money';
import { SAGA_PATTERNS, type SagaPattern } from '../../../config/configuration';
import { ChoreographyEngine } from '../choreography/choreography.engine';
import { TransactionHost } from '../../../database/transaction-host';
import type { SagaStatus } from '../core/saga-state.entity';
import { SagaEngines } from '../runtime/saga-engines';
import { StaleSagaError } from '../core/transition';
import { LoadedSaga, SagaViewCache } from './saga-view.cache';
import { decodeSagaView, encodeSagaView } from './saga-view.codec';
import { isSettled, SagaView, succeeded, toSagaView } from './saga.mapper';
import { SagaRepository } from '../core/saga.repository';
import { SagaSteps } from '../core/steps/saga-steps';

export interface SagaStatistics {
  total: number;
  pending: number;
  inProgress: number;
  completed: number;
  failed: number;
  compensating: number;
  compensated: number;
}

export interface PatternStatistics extends SagaStatistics {
  /** Mean time from start to a terminal status, over the finished sagas. */
  averageDurationMs: number | null;
}

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

export interface SagaEventView {
  eventId: string;
  eventType: string;
  causationId: string | null;
  occurredAt: string;
  dispatched: boolean;
  data: Record<string, unknown>;
}

function statisticsOf(counts: Record<SagaStatus, number>): SagaStatistics {
  return {
    total: Object.values(counts).reduce((sum, n) => sum + n, 0),
    pending: counts.pending,
    inProgress: counts.in_progress,
    completed: counts.completed,
    failed: counts.failed,
    compensating: counts.compensating,
    compensated: counts.compensated,
  };
}

const noCounts = (): Record<SagaStatus, number> => ({
  pending: 0,
  in_progress: 0,
  completed: 0,
  failed: 0,
  compensating: 0,
  compensated: 0,
});

function sagaNotFound(transactionId: string): NotFoundError {
  return new NotFoundError('SAGA_NOT_FOUND', `Saga not found: ${transactionId}`);
}

/** Reading sagas, and the admin's hand on them. */
@Injectable()
export class SagaService {
  constructor(
    private readonly sagas: SagaRepository,
    private readonly engines: SagaEngines,
    private readonly steps: SagaSteps,
    private readonly choreography: ChoreographyEngine,
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
    const { row, steps } = found;
    return { version: row.version, view: toSagaView(row, steps), settled: isSettled(row) };
  }

  async statistics(): Promise<SagaStatistics> {
    const counts = noCounts();
    for (const row of await this.sagas.countByPatternAndStatus())
      counts[row.status] += Number(row.count);
    return statisticsOf(counts);
  }

  async patternStatistics(): Promise<Record<SagaPattern, PatternStatistics>> {
    const rows = await this.sagas.countByPatternAndStatus();
    const result = {} as Record<SagaPattern, PatternStatistics>;
    for (const pattern of SAGA_PATTERNS) {
      const counts = noCounts();
      let weighted = 0;
      let finished = 0;
      for (const row of rows.filter((r) => r.pattern === pattern)) {
        counts[row.status] = Number(row.count);
        if (row.avg_ms !== null) {
          weighted += Number(row.avg_ms) * Number(row.count);
          finished += Number(row.count);
        }
      }
      result[pattern] = {
        ...statisticsOf(counts),
        averageDurationMs: finished === 0 ? null : Math.round(weighted / finished),
      };
    }
    return result;
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

  /** The choreography events a saga raised, in order (none for an orchestrated saga). */
  async events(transactionId: string): Promise<SagaEventView[]> {
    const rows = await this.choreography.events(transactionId);
    return rows.map((row) => ({
      eventId: row.event_id,
      eventType: row.event_type,
      causationId: row.payload.causationId,
      occurredAt: row.payload.occurredAt,
      dispatched: row.dispatched,
      data: row.payload.data,
    }));
  }

  /**
   * Compensates a saga by hand: re-drives a failed compensation, or undoes a saga that is stuck
   * before its pivot. A completed purchase (past its pivot) cannot be undone.
   */
  async compensate(transactionId: string): Promise<{ view: SagaView; changed: boolean }> {
    const found = await this.sagas.findWithSteps(transactionId);
    if (found === undefined) throw sagaNotFound(transactionId);
    const { row, steps } = found;
    const completed = succeeded(steps, 'forward');
    const compensated = succeeded(steps, 'compensation');
    const pastPivot = completed.some((name) => this.steps.indexOf(name) >= this.steps.pivotIndex);
    if (row.status === 'completed' || pastPivot) {
      throw new DomainError(
        'SAGA_NOT_COMPENSABLE',
        `Saga ${transactionId} is past its pivot (the purchase is logged) and cannot be compensated`,
      );
    }
    const undone = completed.every((name) => compensated.includes(name));
    if (row.status === 'compensated' || (row.status === 'failed' && undone)) {
      return { view: toSagaView(row, steps), changed: false };
    }
    try {
      await this.engines.compensate(row, steps, {
        step: row.current_step,
        code: 'MANUAL_COMPENSATION',
        message: 'Compensated by an administrator',
      });
    } catch (error) {
      if (error instanceof StaleSagaError) {
        throw new DomainError(
          'SAGA_NOT_COMPENSABLE',
          `Saga ${transactionId} changed meanwhile; try again`,
        );
      }
      throw error;
    }
    return { view: await this.get(transactionId), changed: true };
  }
}
