import type { SagaPattern } from '../../../config/configuration';
import { PURCHASE_SAGA_V1 } from './definition/purchase-saga.definition';

/**
 * The purchase saga's vocabulary and the rules about its state that do not depend on how it is
 * driven: statuses, steps, what is left to undo. Both patterns, the store and the read model take
 * them from here.
 */

export const SAGA_STATUSES = [
  'pending',
  'in_progress',
  'completed',
  'compensating',
  'compensated',
  'failed',
] as const;
export type SagaStatus = (typeof SAGA_STATUSES)[number];

export const TERMINAL_STATUSES: readonly SagaStatus[] = ['completed', 'compensated', 'failed'];

export function isTerminal(status: SagaStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The error code of a saga whose compensation gave up: the one terminal state an admin re-drives. */
export const COMPENSATION_FAILED = 'COMPENSATION_FAILED';

/** A compensation gave up: the saga is failed, its effects stand until an admin re-drives it. */
export function compensationGaveUp(saga: {
  status: SagaStatus;
  errorCode: string | null;
}): boolean {
  return saga.status === 'failed' && saga.errorCode === COMPENSATION_FAILED;
}

/**
 * compensationGaveUp as a condition on saga_states (columns prefixed by `alias.` when given), in
 * the words of the partial index idx_saga_states_compensation_failed, so that it is used.
 */
export function compensationGaveUpCondition(alias?: string): string {
  const column = (name: string) => (alias === undefined ? name : `${alias}.${name}`);
  return `${column('status')} = 'failed' AND ${column('error_code')} = '${COMPENSATION_FAILED}'`;
}

/**
 * Terminal, and beyond an admin's re-drive (which only a compensation that gave up allows). A
 * saga re-driven to its end is settled, though it keeps the give-up's error code.
 */
export function isSettled(saga: { status: SagaStatus; errorCode: string | null }): boolean {
  return isTerminal(saga.status) && !compensationGaveUp(saga);
}

/** isSettled as a condition on saga_states (aliased `alias`), for the statements that select by it. */
export function settledCondition(alias: string): string {
  const terminal = TERMINAL_STATUSES.map((status) => `'${status}'`).join(', ');
  return `(${alias}.status IN (${terminal}) AND (${alias}.status <> 'failed' OR ${alias}.error_code IS DISTINCT FROM '${COMPENSATION_FAILED}'))`;
}

export type StepName = (typeof PURCHASE_SAGA_V1.steps)[number]['name'];

/** The purchase saga's steps in order, as its definition declares them. */
export const STEP_NAMES: readonly StepName[] = PURCHASE_SAGA_V1.steps.map((step) => step.name);

export function isStepName(value: string): value is StepName {
  return (STEP_NAMES as readonly string[]).includes(value);
}

/** What every step needs to know about its purchase. */
export interface SagaContext {
  transactionId: string;
  pattern: SagaPattern;
  userId: string;
  itemId: string;
  quantity: number;
  /** Total charged, exact numeric string ("100.00"). */
  total: string;
  /** The trace the saga belongs to (W3C traceparent), when it was recorded with tracing on. */
  traceParent?: string;
}

export type StepData = Record<string, unknown>;

export interface SagaError {
  step: string | null;
  code: string;
  message: string;
}

/** A saga as an engine holds it while driving it: a value, replaced (never changed) at each step. */
export interface SagaRecord {
  readonly context: SagaContext;
  readonly status: SagaStatus;
  readonly version: number;
  readonly startedAt: Date;
  /** Forward steps committed, in order. */
  readonly completed: readonly StepName[];
  /** Steps whose compensation committed. */
  readonly compensated: readonly StepName[];
  readonly error: SagaError | null;
}

/**
 * Every SagaRecord is made here, its fields always written in this order: the engines read
 * records on every step, and records of one shape keep those reads fast.
 */
export function sagaRecord(fields: SagaRecord): SagaRecord {
  return {
    context: fields.context,
    status: fields.status,
    version: fields.version,
    startedAt: fields.startedAt,
    completed: fields.completed,
    compensated: fields.compensated,
    error: fields.error,
  };
}

/** Steps still to undo, newest first. */
export function remainingToCompensate(
  saga: Pick<SagaRecord, 'completed' | 'compensated'>,
): StepName[] {
  return saga.completed.filter((name) => !saga.compensated.includes(name)).reverse();
}

/** Where a refused or failed forward step leaves a saga: undone if anything committed, else failed. */
export function statusAfterFailure(saga: Pick<SagaRecord, 'completed'>): SagaStatus {
  return saga.completed.length === 0 ? 'failed' : 'compensating';
}
