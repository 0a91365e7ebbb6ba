import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError } from '../../common/errors/domain-error';
import type { SagaStatus } from './saga-state.entity';
import { SagaEngines } from './engine/saga-engines';
import { StaleSagaError } from './engine/step-runner';
import { SagaView, succeeded, toSagaView } from './saga.mapper';
import { SagaRepository } from './saga.repository';
import { SagaSteps } from './steps/saga-steps';

export interface SagaStatistics {
  total: number;
  pending: number;
  inProgress: number;
  completed: number;
  failed: number;
  compensating: number;
  compensated: number;
}

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
  ) {}

  async get(transactionId: string): Promise<SagaView> {
    const row = await this.sagas.findById(transactionId);
    if (row === undefined) throw sagaNotFound(transactionId);
    return toSagaView(row, await this.sagas.findSteps(transactionId));
  }

  async statistics(): Promise<SagaStatistics> {
    const counts: Record<SagaStatus, number> = await this.sagas.countByStatus();
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

  /**
   * Compensates a saga by hand: re-drives a failed compensation, or undoes a saga that is stuck
   * before its pivot. A completed purchase (past its pivot) cannot be undone.
   */
  async compensate(transactionId: string): Promise<{ view: SagaView; changed: boolean }> {
    const row = await this.sagas.findById(transactionId);
    if (row === undefined) throw sagaNotFound(transactionId);
    const steps = await this.sagas.findSteps(transactionId);
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
