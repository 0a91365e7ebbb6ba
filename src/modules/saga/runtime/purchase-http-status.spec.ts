import type { SagaStatus } from '../core/saga';
import type { PurchaseResult } from '../read-model/saga.mapper';
import { purchaseHttpStatus } from './purchase-http-status';

function result(status: SagaStatus, code?: string): PurchaseResult {
  return {
    success: status === 'completed',
    transactionId: 'TXN_1',
    status,
    pattern: 'orchestration',
    completedSteps: [],
    message: '',
    ...(code === undefined ? {} : { error: { step: null, code, message: code } }),
    data: {
      userId: 'u',
      itemId: 'i',
      quantity: 1,
      price: 1,
      grantedAt: null,
      logId: null,
      notificationId: null,
    },
  };
}

describe('purchaseHttpStatus', () => {
  it('answers each outcome of a purchase with its HTTP status', () => {
    expect(purchaseHttpStatus(result('completed'))).toBe(200);
    expect(purchaseHttpStatus(result('in_progress'))).toBe(202);
    expect(purchaseHttpStatus(result('pending', 'SERVICE_UNAVAILABLE'))).toBe(503);
    expect(purchaseHttpStatus(result('compensated', 'INSUFFICIENT_STOCK'))).toBe(409);
    expect(purchaseHttpStatus(result('failed', 'USER_NOT_FOUND'))).toBe(404);
    // A code the contract does not know, or no code at all, is the server's fault.
    expect(purchaseHttpStatus(result('failed', 'RETIRED_CODE'))).toBe(500);
    expect(purchaseHttpStatus(result('failed'))).toBe(500);
  });
});
