import {
  collectDefaultMetrics,
  Counter,
  CounterConfiguration,
  Gauge,
  GaugeConfiguration,
  Histogram,
  HistogramConfiguration,
  register,
} from 'prom-client';

/**
 * Metrics live in prom-client's default registry, which is one per process while the application
 * may be built several times in it: each metric is created once and found again afterwards.
 */
function single<M>(name: string, type: new (...args: never[]) => M, create: () => M): M {
  const existing = register.getSingleMetric(name);
  if (existing === undefined) return create();
  if (existing instanceof type) return existing;
  throw new Error(`Metric ${name} is already registered with another type`);
}

export function counter<L extends string>(config: CounterConfiguration<L>): Counter<L> {
  return single(config.name, Counter<L>, () => new Counter<L>(config));
}

export function gauge<L extends string>(config: GaugeConfiguration<L>): Gauge<L> {
  return single(config.name, Gauge<L>, () => new Gauge<L>(config));
}

export function histogram<L extends string>(config: HistogramConfiguration<L>): Histogram<L> {
  return single(config.name, Histogram<L>, () => new Histogram<L>(config));
}

/** Node process metrics (CPU, memory, event loop lag, GC), collected once per process. */
export function ensureDefaultMetrics(): void {
  if (register.getSingleMetric('process_cpu_user_seconds_total') !== undefined) return;
  collectDefaultMetrics();
}
