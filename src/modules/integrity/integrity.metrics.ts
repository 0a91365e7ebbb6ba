import { Gauge, register } from 'prom-client';

/**
 * A gauge of the default registry, created once per process however many applications the
 * process builds (registering a name twice throws).
 */
function sharedGauge<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Gauge<L> {
  const existing = register.getSingleMetric(name);
  if (existing !== undefined) return existing as Gauge<L>;
  return new Gauge<L>({ name, help, labelNames });
}

export const INTEGRITY_VIOLATIONS_METRIC = 'saga_integrity_violations';
export const INTEGRITY_LAST_RUN_METRIC = 'saga_integrity_last_run_timestamp_seconds';

/** What the last reconciliation found, per check, for Prometheus to alert on. */
export class IntegrityMetrics {
  private readonly violations = sharedGauge(
    INTEGRITY_VIOLATIONS_METRIC,
    'Violations of the data-integrity guarantees found by the last reconciliation, per check',
    ['check'],
  );
  private readonly lastRun = sharedGauge(
    INTEGRITY_LAST_RUN_METRIC,
    'When the last reconciliation finished (Unix time, seconds)',
  );
  private readonly lastDuration = sharedGauge(
    'saga_integrity_last_run_duration_seconds',
    'How long the last reconciliation took',
  );

  private readonly changesLeft = sharedGauge(
    'saga_integrity_changes_pending',
    'Ledger changes past the reconciliation checkpoint, left for the next incremental run',
  );

  record(
    counts: Record<string, number>,
    finishedAt: Date,
    durationMs: number,
    changesLeft: number,
  ): void {
    for (const [check, count] of Object.entries(counts)) this.violations.set({ check }, count);
    this.lastRun.set(finishedAt.getTime() / 1000);
    this.lastDuration.set(durationMs / 1000);
    this.changesLeft.set(changesLeft);
  }
}
