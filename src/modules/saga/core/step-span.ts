import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { inSpan, startSpanInTrace } from '../../../common/tracing/tracer';
import type { SagaRecord, StepName } from './saga';

/** How a step's attempts ended for its saga, as its span says (`saga.outcome`). */
export type StepOutcome = 'done' | 'refused' | 'failed' | 'stale';

/**
 * Runs one forward step (`step`) or one undo (`compensation`) of a saga, all its attempts, in a
 * span `saga.step <name>` / `saga.compensation <name>` of the saga's trace, stored with it: under
 * the caller's span when that one is in the trace (the purchase's request, an outbox event's
 * processing), else under the stored context (recovery, another process), linked to a caller of
 * another trace (an admin's re-drive).
 */
export function inStepSpan<T>(
  saga: SagaRecord,
  kind: 'step' | 'compensation',
  step: StepName,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const span = startSpanInTrace(`saga.${kind} ${step}`, saga.context.traceParent);
  if (span.isRecording()) {
    span.setAttributes({
      'saga.transaction_id': saga.context.transactionId,
      'saga.pattern': saga.context.pattern,
      'saga.step': step,
      'saga.step.kind': kind === 'step' ? 'forward' : 'compensation',
    });
  }
  return inSpan(span, () => work(span));
}

/** The outcome on a step's span; `errorCode` (the saga's error code) as `error.type`. */
export function markOutcome(span: Span, outcome: StepOutcome, errorCode?: string): void {
  if (!span.isRecording()) return;
  span.setAttribute('saga.outcome', outcome);
  if (errorCode !== undefined) span.setAttribute('error.type', errorCode);
  if (outcome === 'failed') span.setStatus({ code: SpanStatusCode.ERROR });
}

/** An attempt of the step that failed and may be retried, on its span. */
export function markAttempt(span: Span, attempt: number, failed: unknown): void {
  if (!span.isRecording()) return;
  span.setAttribute('saga.attempt', attempt);
  if (failed !== undefined) {
    span.addEvent('saga.attempt_failed', {
      'saga.attempt': attempt,
      'error.type': failed instanceof Error ? failed.constructor.name : typeof failed,
    });
  }
}
