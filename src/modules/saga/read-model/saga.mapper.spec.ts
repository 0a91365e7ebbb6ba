import type { SagaRow, StepRow } from '../core/saga.repository';
import { toSagaView } from './saga.mapper';
import { toRecord } from '../core/saga-record';

const at = new Date('2030-01-01T00:00:00.000Z');

function sagaRow(overrides: Partial<SagaRow> = {}): SagaRow {
  return {
    transaction_id: 'TXN_1',
    pattern: 'orchestration',
    status: 'in_progress',
    current_step: 'item_grant',
    user_id: 'user-1',
    item_id: 'item-1',
    quantity: 2,
    price: '20.00',
    idempotency_key: null,
    request_hash: null,
    error_step: null,
    error_code: null,
    error_message: null,
    version: 3,
    lease_owner: null,
    lease_expires_at: null,
    attempts: 0,
    created_at: at,
    updated_at: at,
    completed_at: null,
    failed_at: null,
    trace_parent: null,
    definition_name: 'purchase',
    definition_version: 1,
    definition_hash: 'h',
    ...overrides,
  };
}

function stepRow(overrides: Partial<StepRow> = {}): StepRow {
  return {
    id: '1',
    transaction_id: 'TXN_1',
    step: 'user_validation',
    kind: 'forward',
    status: 'success',
    data: null,
    error_code: null,
    error_message: null,
    duration_ms: 4,
    executed_at: at,
    ...overrides,
  };
}

describe('saga mapper', () => {
  it('gives the engine what committed, ignoring failures and unknown steps', () => {
    const record = toRecord(
      sagaRow({
        status: 'compensating',
        error_step: 'item_grant',
        error_code: 'X',
        error_message: null,
      }),
      [
        stepRow(),
        stepRow({ step: 'item_grant', status: 'failed' }),
        stepRow({ step: 'legacy_step' }),
        stepRow({ kind: 'compensation' }),
      ],
    );

    expect(record).toMatchObject({
      context: { transactionId: 'TXN_1', total: '20.00', quantity: 2 },
      version: 3,
      completed: ['user_validation'],
      compensated: ['user_validation'],
      error: { step: 'item_grant', code: 'X', message: '' },
    });
  });

  it('refuses to run a saga recorded without a price', () => {
    expect(() => toRecord(sagaRow({ price: null }), [])).toThrow(
      'Saga TXN_1 has no price and cannot run',
    );
  });

  it('names the definition version the saga runs', () => {
    const view = toSagaView(sagaRow({ definition_version: 2 }), []);
    expect(view.definition).toEqual({ name: 'purchase', version: 2 });
  });

  it('shows failed steps and compensations with their errors', () => {
    const view = toSagaView(
      sagaRow({
        status: 'failed',
        failed_at: at,
        error_code: 'COMPENSATION_FAILED',
        error_message: 'boom',
      }),
      [
        stepRow({
          step: 'item_grant',
          status: 'failed',
          error_code: 'STEP_FAILED',
          error_message: null,
        }),
        stepRow({
          kind: 'compensation',
          status: 'failed',
          error_code: 'COMPENSATION_FAILED',
          error_message: 'boom',
        }),
      ],
    );

    expect(view.steps).toEqual([
      expect.objectContaining({ step: 'item_grant', error: { code: 'STEP_FAILED', message: '' } }),
    ]);
    expect(view.compensations).toEqual([
      expect.objectContaining({
        action: 'compensate',
        error: { code: 'COMPENSATION_FAILED', message: 'boom' },
      }),
    ]);
    expect(view.failedAt).toBe(at);
    expect(view.completedAt).toBeUndefined();
    expect(view.error).toEqual({ step: null, code: 'COMPENSATION_FAILED', message: 'boom' });
  });
});
