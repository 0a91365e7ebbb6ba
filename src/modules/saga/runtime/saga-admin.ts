import { Injectable } from '@nestjs/common';
import { DomainError } from '../../../common/errors/domain-error';
import { isRegistered } from '../core/definition/saga-definitions';
import { remainingToCompensate } from '../core/saga';
import { toRecord } from '../core/saga-record';
import { SagaRepository } from '../core/saga.repository';
import { SagaSteps } from '../core/steps/saga-steps';
import { SagaService, sagaNotFound } from '../read-model/saga.service';
import { toSagaView, type SagaView } from '../read-model/saga.mapper';
import { ChoreographyEngine } from '../choreography/choreography.engine';
import { toEventView, type SagaEventView } from '../choreography/saga-events';
import { SagaEngines } from './saga-engines';

export type { SagaEventView } from '../choreography/saga-events';
export type { SagaView } from '../read-model/saga.mapper';

/**
 * What an administrator sees of one saga and does to it: its view, the events it raised, and
 * compensation by hand (re-driving a failed compensation, or undoing a saga stuck before its
 * pivot; a completed purchase, past its pivot, cannot be undone).
 */
@Injectable()
export class SagaAdmin {
  constructor(
    private readonly sagas: SagaRepository,
    private readonly steps: SagaSteps,
    private readonly engines: SagaEngines,
    private readonly views: SagaService,
    private readonly choreography: ChoreographyEngine,
  ) {}

  /** The saga's view, as GET /saga/:id gives it. */
  view(transactionId: string): Promise<SagaView> {
    return this.views.get(transactionId);
  }

  /** The choreography events the saga raised, in order (none for an orchestrated saga). */
  async events(transactionId: string): Promise<SagaEventView[]> {
    return (await this.choreography.events(transactionId)).map(toEventView);
  }

  async compensate(transactionId: string): Promise<{ view: SagaView; changed: boolean }> {
    const found = await this.sagas.findWithSteps(transactionId);
    if (found === undefined) throw sagaNotFound(transactionId);
    const { row, steps } = found;
    const definition = { name: row.definition_name, version: row.definition_version };
    if (!isRegistered(definition)) {
      // Its steps and undos are another build's: only an instance that has them may drive it.
      throw new DomainError(
        'SAGA_VERSION_NOT_REGISTERED',
        `Saga ${transactionId} runs ${definition.name} version ${definition.version}, which this instance does not have`,
      );
    }
    const saga = toRecord(row, steps);
    if (row.status === 'completed' || this.steps.pivotCommitted(saga.completed)) {
      throw new DomainError(
        'SAGA_NOT_COMPENSABLE',
        `Saga ${transactionId} is past its pivot (the purchase is logged) and cannot be compensated`,
      );
    }
    const undone = remainingToCompensate(saga).length === 0;
    if (row.status === 'compensated' || (row.status === 'failed' && undone)) {
      return { view: toSagaView(row, steps, found.notification), changed: false };
    }
    const result = await this.engines.compensate(saga, {
      step: row.current_step,
      code: 'MANUAL_COMPENSATION',
      message: 'Compensated by an administrator',
    });
    if (result === 'stale') {
      throw new DomainError(
        'SAGA_NOT_COMPENSABLE',
        `Saga ${transactionId} changed meanwhile; try again`,
      );
    }
    return { view: await this.views.get(transactionId), changed: true };
  }
}
