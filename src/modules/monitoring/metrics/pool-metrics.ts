import { Injectable, OnModuleDestroy } from '@nestjs/common';
import type { GateRefusal } from '../../../common/concurrency-gate';
import { TransactionHost } from '../../../database/transaction-host';
import { JobsTransactionHost, ReportingTransactionHost } from '../../../database/work-pools';
import { counter, gauge } from './metric-registry';

/** The pools of the classes of work, as the metrics label them. */
const POOLS = ['purchase', 'reporting', 'jobs'] as const;
type PoolName = (typeof POOLS)[number];

/** Every application built in this process (tests build several): the figures are their sums. */
const sources = new Set<Record<PoolName, TransactionHost>>();

function sum(pool: PoolName, figure: 'inUse' | 'waiting'): number {
  let total = 0;
  for (const hosts of sources) total += hosts[pool].usage()?.[figure] ?? 0;
  return total;
}

gauge({
  name: 'saga_db_pool_in_use',
  help: 'Connections checked out of each pool (purchase, reporting, jobs), read at each scrape',
  labelNames: ['pool'] as const,
  collect() {
    for (const pool of POOLS) this.set({ pool }, sum(pool, 'inUse'));
  },
});
gauge({
  name: 'saga_db_pool_waiting',
  help: 'Callers waiting for a connection of each pool (reporting: its queue), read at each scrape',
  labelNames: ['pool'] as const,
  collect() {
    for (const pool of POOLS) this.set({ pool }, sum(pool, 'waiting'));
  },
});
const shed = counter({
  name: 'saga_reporting_shed_total',
  help: 'Reporting statements refused with 429 REPORTING_BUSY: queue full, or waited too long',
  labelNames: ['reason'] as const,
});
for (const reason of ['queue-full', 'waited-too-long'] satisfies GateRefusal[]) {
  shed.inc({ reason }, 0);
}

/** Per pool, connections in use and callers waiting; reporting statements shed. */
@Injectable()
export class PoolMetrics implements OnModuleDestroy {
  private readonly hosts: Record<PoolName, TransactionHost>;

  constructor(
    purchase: TransactionHost,
    reporting: ReportingTransactionHost,
    jobs: JobsTransactionHost,
  ) {
    this.hosts = { purchase, reporting, jobs };
    sources.add(this.hosts);
    reporting.onShed((reason) => shed.inc({ reason }));
  }

  onModuleDestroy(): void {
    sources.delete(this.hosts);
  }
}
