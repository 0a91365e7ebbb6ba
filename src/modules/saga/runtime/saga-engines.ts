import { Inject, Injectable } from '@nestjs/common';
import type { SagaPattern } from '../../../config/configuration';
import type { SagaError, SagaRecord } from '../core/saga';
import { SAGA_ENGINES, type SagaEngine, type StartSaga } from '../core/saga-engine';
import { toRecord } from '../core/saga-record';
import type { SagaRow, StepRow } from '../core/saga.repository';

/** A saga just recorded, and how to set it going once its transaction has committed. */
export interface InitiatedSaga {
  saga: SagaRecord;
  start: StartSaga;
}

/**
 * Hands each saga to the engine of the pattern that owns it: only that engine ever advances it.
 */
@Injectable()
export class SagaEngines {
  private readonly byPattern = new Map<SagaPattern, SagaEngine>();

  constructor(@Inject(SAGA_ENGINES) engines: readonly SagaEngine[]) {
    for (const engine of engines) this.byPattern.set(engine.pattern, engine);
  }

  /**
   * Inside the transaction that records new sagas: each pattern writes what starts its own,
   * every engine's statements issued before the first await (the caller's COMMIT follows them).
   */
  async initiate(rows: readonly SagaRow[]): Promise<InitiatedSaga[]> {
    const sagas = rows.map((row) => toRecord(row, []));
    const started = [...this.byPattern.values()].map((engine) => {
      const mine = sagas.filter((saga) => saga.context.pattern === engine.pattern);
      return { mine, starts: mine.length === 0 ? Promise.resolve([]) : engine.initiate(mine) };
    });
    const initiated = new Map<string, InitiatedSaga>();
    for (const { mine, starts } of started) {
      (await starts).forEach((start, index) =>
        initiated.set(mine[index].context.transactionId, { saga: mine[index], start }),
      );
    }
    return sagas.map((saga) => {
      const one = initiated.get(saga.context.transactionId);
      if (one === undefined)
        throw new Error(`No engine started saga ${saga.context.transactionId}`);
      return one;
    });
  }

  /** Goes on with a saga claimed by recovery, in its own pattern, from its last committed step. */
  resume(row: SagaRow, steps: readonly StepRow[]): Promise<void> {
    const saga = toRecord(row, steps);
    return this.of(saga).resume(saga);
  }

  /** Compensates a stored saga from what it has committed (admin re-drive). */
  compensate(saga: SagaRecord, reason: SagaError): Promise<'done' | 'stale'> {
    return this.of(saga).compensate(saga, reason);
  }

  /** On shutdown: every engine's work under way gets to the end of its step. */
  async drain(): Promise<void> {
    await Promise.all([...this.byPattern.values()].map((engine) => engine.drain()));
  }

  private of(saga: SagaRecord): SagaEngine {
    const engine = this.byPattern.get(saga.context.pattern);
    if (engine === undefined) throw new Error(`No engine runs ${saga.context.pattern} sagas`);
    return engine;
  }
}
