import { register } from 'prom-client';
import { counter, gauge, histogram } from './metric-registry';

describe('metric registry', () => {
  afterEach(() => {
    register.removeSingleMetric('test_registry_counter_total');
    register.removeSingleMetric('test_registry_histogram_seconds');
  });

  it('gives back the metric already registered under a name', () => {
    const first = counter({ name: 'test_registry_counter_total', help: 'first' });
    first.inc(2);
    const again = counter({ name: 'test_registry_counter_total', help: 'second' });

    expect(again).toBe(first);
    const second = histogram({ name: 'test_registry_histogram_seconds', help: 'h' });
    expect(histogram({ name: 'test_registry_histogram_seconds', help: 'h' })).toBe(second);
  });

  it('refuses a name already taken by another kind of metric', () => {
    counter({ name: 'test_registry_counter_total', help: 'a counter' });
    expect(() => gauge({ name: 'test_registry_counter_total', help: 'a gauge' })).toThrow(
      'Metric test_registry_counter_total is already registered with another type',
    );
  });
});
