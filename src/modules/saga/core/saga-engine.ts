import type { SagaPattern } from '../../../config/configuration';
import type { SagaError, SagaRecord } from './saga';

/**
 * Sets a saga going once the transaction that recorded it has committed: resolves true once it is
 * terminal, false when `waitMs` passed first (it goes on in the background); rejects if its
 * driver here failed.
 */
export type StartSaga = (waitMs: number) => Promise<boolean>;

/** The engines of the patterns, one per pattern: the only code that advances a saga. */
export const SAGA_ENGINES = Symbol('SAGA_ENGINES');

/** What each pattern implements: the orchestrator, and the choreography of participants. */
export interface SagaEngine {
  readonly pattern: SagaPattern;
  /**
   * Inside the transaction that records new sagas of this pattern: writes what starts them,
   * issuing its statements before its first await (the caller's COMMIT follows them). Answers,
   * per saga, how to set it going.
   */
  initiate(sagas: readonly SagaRecord[]): Promise<StartSaga[]>;
  /** Goes on with a saga claimed by recovery, from its last committed step. */
  resume(saga: SagaRecord): Promise<void>;
  /**
   * Compensates a saga from what it has committed (admin re-drive): a saga still running is
   * first taken over, so its current driver stops at its next transition. `stale` when it moved
   * meanwhile.
   */
  compensate(saga: SagaRecord, reason: SagaError): Promise<'done' | 'stale'>;
  /** On shutdown: the work under way here gets to the end of the step it is in. */
  drain(): Promise<void>;
}
