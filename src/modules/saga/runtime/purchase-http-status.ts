import {
  ERROR_HTTP_STATUS,
  httpStatusOf,
  type ErrorCode,
} from '../../../common/errors/error-codes';
import { isTerminal } from '../core/saga';
import type { PurchaseResult } from '../read-model/saga.mapper';

/**
 * The HTTP status of a purchase's answer: 200 done, 202 still running, 503 when the database went
 * away after the saga was recorded, else its error's.
 */
export function purchaseHttpStatus(result: PurchaseResult): number {
  if (result.error?.code === 'SERVICE_UNAVAILABLE') return 503;
  if (result.status === 'completed') return 200;
  if (!isTerminal(result.status)) return 202;
  const code = result.error?.code;
  return code !== undefined && code in ERROR_HTTP_STATUS ? httpStatusOf(code as ErrorCode) : 500;
}
