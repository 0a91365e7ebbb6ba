import { SAGA_STATUSES, type SagaStatus } from '../core/saga';

/** Sagas per status, as the API reports them. */
export interface SagaStatistics {
  total: number;
  pending: number;
  inProgress: number;
  completed: number;
  failed: number;
  compensating: number;
  compensated: number;
}

export interface PatternStatistics extends SagaStatistics {
  /** Mean time from start to a terminal status, over the finished sagas. */
  averageDurationMs: number | null;
}

/** The one way counts per status become statistics: from rows of (status, count). */
export function statisticsOf(
  rows: readonly { status: SagaStatus; count: number | string }[],
): SagaStatistics {
  const counts = Object.fromEntries(SAGA_STATUSES.map((status) => [status, 0])) as Record<
    SagaStatus,
    number
  >;
  for (const row of rows) counts[row.status] += Number(row.count);
  return {
    total: SAGA_STATUSES.reduce((sum, status) => sum + counts[status], 0),
    pending: counts.pending,
    inProgress: counts.in_progress,
    completed: counts.completed,
    failed: counts.failed,
    compensating: counts.compensating,
    compensated: counts.compensated,
  };
}
