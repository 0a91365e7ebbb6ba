import { counter, gauge } from '../monitoring/metrics/metric-registry';

const published = counter({
  name: 'integration_events_published_total',
  help: 'Integration events a sink acknowledged, by sink',
  labelNames: ['sink'] as const,
});
const failed = counter({
  name: 'integration_events_failed_total',
  help: 'Integration event publishes that failed (retried later), by sink',
  labelNames: ['sink'] as const,
});
const lag = gauge({
  name: 'integration_events_relay_lag_seconds',
  help: 'Age of the oldest integration event not yet published (0: none waits)',
});
const backlog = gauge({
  name: 'integration_events_backlog',
  help: 'Integration events waiting to be published',
});
const connected = gauge({
  name: 'integration_events_sink_connected',
  help: '1 while a sink is reachable and ready, else 0',
  labelNames: ['sink'] as const,
});

/** The relay's figures on GET /metrics. */
export const relayMetrics = {
  published: (sink: string, n: number) => published.inc({ sink }, n),
  failed: (sink: string, n: number) => failed.inc({ sink }, n),
  backlog: (events: number, lagSeconds: number) => {
    backlog.set(events);
    lag.set(lagSeconds);
  },
  connected: (sink: string, up: boolean) => connected.set({ sink }, up ? 1 : 0),
};
