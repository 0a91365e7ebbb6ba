import { Counter, register } from 'prom-client';

/**
 * A counter of the default registry, created once per process however many applications the
 * process builds (registering a name twice throws).
 */
export function sharedCounter<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const existing = register.getSingleMetric(name);
  if (existing !== undefined) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames });
}
