import { TraceFlags } from '@opentelemetry/api';
import { spanContextOf } from '../../../common/tracing/tracer';
import { moneyToJson } from '../../../common/money';
import type { SagaPattern } from '../../../config/configuration';
import type { NotificationState, SagaRow, StepRow } from '../core/saga.repository';
import { type SagaError, type SagaStatus, type StepData, type StepName } from '../core/saga';
import { sagaErrorOf, succeeded } from '../core/saga-record';

export interface PurchaseResult {
  success: boolean;
  transactionId: string;
  status: SagaStatus;
  pattern: SagaPattern;
  completedSteps: string[];
  message: string;
  error?: SagaError;
  data: {
    userId: string;
    itemId: string;
    quantity: number;
    price: number | null;
    grantedAt: string | null;
    logId: string | null;
    notificationId: string | null;
  };
}

export interface StepView {
  step: string;
  status: string;
  data: StepData | null;
  executedAt: Date;
  duration: number;
  error?: { code: string; message: string };
}

export interface CompensationView {
  step: string;
  status: string;
  action: 'compensate';
  data: StepData | null;
  executedAt: Date;
  /** How long the undo's transaction took, ms. */
  duration: number;
  error?: { code: string; message: string };
}

export interface SagaView {
  transactionId: string;
  status: SagaStatus;
  pattern: SagaPattern;
  /** The saga definition (and its version) the saga runs, to its end. */
  definition: { name: string; version: number };
  currentStep: string | null;
  purchaseData: { userId: string; itemId: string; quantity: number; price: number | null };
  steps: StepView[];
  compensations: CompensationView[];
  startedAt: Date;
  completedAt?: Date;
  failedAt?: Date;
  error?: SagaError;
  /** The id of the saga's trace, when it was recorded with tracing on and sampled. */
  traceId?: string;
  /** The notification's delivery to the outside, once the notification step recorded it. */
  notification?: NotificationState;
}

export function toSagaView(
  row: SagaRow,
  steps: StepRow[],
  notification: NotificationState | null = null,
): SagaView {
  const errorOf = (s: StepRow) =>
    s.error_code === null ? {} : { error: { code: s.error_code, message: s.error_message ?? '' } };
  const view: SagaView = {
    transactionId: row.transaction_id,
    status: row.status,
    pattern: row.pattern,
    definition: { name: row.definition_name, version: row.definition_version },
    currentStep: row.current_step,
    purchaseData: {
      userId: row.user_id,
      itemId: row.item_id,
      quantity: row.quantity,
      price: moneyToJson(row.price),
    },
    steps: steps
      .filter((s) => s.kind === 'forward')
      .map((s) => ({
        step: s.step,
        status: s.status,
        data: s.data,
        executedAt: s.executed_at,
        duration: s.duration_ms,
        ...errorOf(s),
      })),
    compensations: steps
      .filter((s) => s.kind === 'compensation')
      .map((s) => ({
        step: s.step,
        status: s.status,
        action: 'compensate' as const,
        data: s.data,
        executedAt: s.executed_at,
        duration: s.duration_ms,
        ...errorOf(s),
      })),
    startedAt: row.created_at,
  };
  if (row.completed_at !== null) view.completedAt = row.completed_at;
  if (row.failed_at !== null) view.failedAt = row.failed_at;
  const error = sagaErrorOf(row);
  if (error !== null) view.error = error;
  const trace = spanContextOf(row.trace_parent);
  if (trace !== undefined && (trace.traceFlags & TraceFlags.SAMPLED) !== 0) {
    view.traceId = trace.traceId;
  }
  if (notification !== null) view.notification = notification;
  return view;
}

const MESSAGES: Record<SagaStatus, string> = {
  pending: 'Purchase accepted; it is being processed',
  in_progress: 'Purchase accepted; it is being processed',
  compensating: 'Purchase failed; its effects are being undone',
  completed: 'Purchase completed successfully',
  compensated: 'Purchase failed and was rolled back',
  failed: 'Purchase failed',
};

export function toPurchaseResult(row: SagaRow, steps: StepRow[]): PurchaseResult {
  const forward = (name: StepName) =>
    steps.find((s) => s.kind === 'forward' && s.step === name && s.status === 'success')?.data ??
    null;
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const error = sagaErrorOf(row);
  const result: PurchaseResult = {
    success: row.status === 'completed',
    transactionId: row.transaction_id,
    status: row.status,
    pattern: row.pattern,
    completedSteps: succeeded(steps, 'forward'),
    message: error === null ? MESSAGES[row.status] : `${MESSAGES[row.status]}: ${error.message}`,
    data: {
      userId: row.user_id,
      itemId: row.item_id,
      quantity: row.quantity,
      price: moneyToJson(row.price),
      grantedAt: text(forward('item_grant')?.grantedAt),
      logId: text(forward('log_record')?.logId),
      notificationId: text(forward('notification')?.notificationId),
    },
  };
  if (error !== null && row.status !== 'completed') result.error = error;
  return result;
}
