import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { SAGA_PATTERNS, type SagaPattern } from '../../../config/configuration';
import {
  OUTBOX_BACKLOG,
  type OutboxBacklogEvent,
  SAGA_CHANGED,
  SAGA_RECOVERED,
  type SagaChangedEvent,
  type SagaRecoveredEvent,
} from '../../saga/core/saga-changed.event';
import { counter, gauge, histogram } from './metric-registry';
import { TERMINAL_STATUSES } from '../../saga/core/saga';

export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const sagasStarted = counter({
  name: 'saga_started_total',
  help: 'Sagas started, by pattern',
  labelNames: ['pattern'] as const,
});
const sagasFinished = counter({
  name: 'saga_finished_total',
  help: 'Sagas that reached a terminal status (completed, compensated, failed), by pattern and status',
  labelNames: ['pattern', 'status'] as const,
});
const sagaDuration = histogram({
  name: 'saga_duration_seconds',
  help: 'Time from the start of a saga to its terminal status',
  labelNames: ['pattern', 'status'] as const,
  buckets: DURATION_BUCKETS,
});
const stepDuration = histogram({
  name: 'saga_step_duration_seconds',
  help: 'Duration of saga steps (kind=forward) and compensations (kind=compensation), by outcome',
  labelNames: ['step', 'kind', 'outcome'] as const,
  buckets: DURATION_BUCKETS,
});
const recoveryClaims = counter({
  name: 'saga_recovery_claims_total',
  help: 'Sagas claimed by recovery to be finished or compensated, by pattern',
  labelNames: ['pattern'] as const,
});
const outboxBacklog = gauge({
  name: 'saga_outbox_backlog',
  help: 'Outbox events waiting to be dispatched',
});

// Every pattern and terminal status shows up (at 0) before its first saga.
for (const pattern of SAGA_PATTERNS) {
  sagasStarted.inc({ pattern }, 0);
  recoveryClaims.inc({ pattern }, 0);
  for (const status of TERMINAL_STATUSES) sagasFinished.inc({ pattern, status }, 0);
}

/** The saga counters since the process started: finished per status, durations per bucket. */
export interface SagaTotals {
  finished: Record<TerminalStatus, number>;
  /** Cumulative counts per DURATION_BUCKETS bound, then +Inf (all sagas with a duration). */
  durationBuckets: number[];
}

export type TerminalStatus = 'completed' | 'compensated' | 'failed';

/** Reads the counters GET /metrics shows (no database, no per-purchase work). */
export async function readSagaTotals(): Promise<SagaTotals> {
  const finished: Record<TerminalStatus, number> = { completed: 0, compensated: 0, failed: 0 };
  for (const { labels, value } of (await sagasFinished.get()).values) {
    const status = labels.status as TerminalStatus | undefined;
    if (status !== undefined && status in finished) finished[status] += value;
  }
  const bounds = [...DURATION_BUCKETS.map(String), '+Inf'];
  const durationBuckets = bounds.map(() => 0);
  for (const { labels, value, metricName } of (await sagaDuration.get()).values) {
    if (metricName !== 'saga_duration_seconds_bucket') continue;
    const index = bounds.indexOf(String((labels as Record<string, unknown>).le));
    if (index >= 0) durationBuckets[index] += value;
  }
  return { finished, durationBuckets };
}

/**
 * The saga figures of GET /metrics. Counts starts, finishes and step durations from the
 * `saga.changed` events, recovery claims from `saga.recovered`, the outbox backlog from
 * `outbox.backlog`.
 */
@Injectable()
export class SagaMetrics {
  private readonly logger = new Logger(SagaMetrics.name);

  @OnEvent(SAGA_CHANGED)
  onSagaChanged(event: SagaChangedEvent): void {
    // An observer: whatever goes wrong here must never reach the saga that emitted the event.
    try {
      this.record(event);
    } catch (error) {
      this.logger.warn(`Saga metrics not recorded for ${event.transactionId}: ${String(error)}`);
    }
  }

  /** A saga was claimed by recovery. */
  @OnEvent(SAGA_RECOVERED)
  onRecovered(event: SagaRecoveredEvent): void {
    this.recoveryClaimed(event.pattern);
  }

  @OnEvent(OUTBOX_BACKLOG)
  onOutboxBacklog(event: OutboxBacklogEvent): void {
    this.setOutboxBacklog(event.pending);
  }

  recoveryClaimed(pattern: SagaPattern): void {
    recoveryClaims.inc({ pattern });
  }

  /** Outbox events not yet dispatched. */
  setOutboxBacklog(count: number): void {
    outboxBacklog.set(count);
  }

  private record(event: SagaChangedEvent): void {
    if (event.previousStatus === null) sagasStarted.inc({ pattern: event.pattern });
    if (TERMINAL_STATUSES.includes(event.status) && event.previousStatus !== event.status) {
      sagasFinished.inc({ pattern: event.pattern, status: event.status });
      if (event.sagaAgeMs !== null) {
        sagaDuration.observe(
          { pattern: event.pattern, status: event.status },
          event.sagaAgeMs / 1000,
        );
      }
    }
    if (
      event.step !== null &&
      event.kind !== null &&
      event.outcome !== null &&
      event.durationMs !== null
    ) {
      stepDuration.observe(
        { step: event.step, kind: event.kind, outcome: event.outcome },
        event.durationMs / 1000,
      );
    }
  }
}
