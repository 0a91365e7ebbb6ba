import type { SagaRow, StepRow } from './saga.repository';
import {
  isStepName,
  sagaRecord,
  type SagaContext,
  type SagaError,
  type SagaRecord,
  type StepName,
} from './saga';

/** A stored saga's error, if it has one. */
export function sagaErrorOf(row: SagaRow): SagaError | null {
  if (row.error_code === null) return null;
  return { step: row.error_step, code: row.error_code, message: row.error_message ?? '' };
}

/** The steps (or compensations) that committed, in order. */
export function succeeded(steps: readonly StepRow[], kind: 'forward' | 'compensation'): StepName[] {
  return steps
    .filter((s) => s.kind === kind && s.status === 'success' && isStepName(s.step))
    .map((s) => s.step as StepName);
}

/** What every step needs of a stored saga: the purchase, fixed when it was recorded. */
export function contextOf(
  row: Pick<
    SagaRow,
    'transaction_id' | 'pattern' | 'user_id' | 'item_id' | 'quantity' | 'price' | 'trace_parent'
  >,
): SagaContext {
  if (row.price === null) throw new Error(`Saga ${row.transaction_id} has no price and cannot run`);
  const context: SagaContext = {
    transactionId: row.transaction_id,
    pattern: row.pattern,
    userId: row.user_id,
    itemId: row.item_id,
    quantity: row.quantity,
    total: row.price,
  };
  if (row.trace_parent !== null) context.traceParent = row.trace_parent;
  return context;
}

/** The engine's view of a stored saga: what committed, so it can go on from there. */
export function toRecord(row: SagaRow, steps: readonly StepRow[]): SagaRecord {
  return sagaRecord({
    context: contextOf(row),
    status: row.status,
    version: row.version,
    startedAt: row.created_at,
    completed: succeeded(steps, 'forward'),
    compensated: succeeded(steps, 'compensation'),
    error: sagaErrorOf(row),
  });
}
