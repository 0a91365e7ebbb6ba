import { counter, gauge, histogram } from '../monitoring/metrics/metric-registry';
import type { AttemptOutcome } from './webhook-sender';

const attempts = counter({
  name: 'webhook_attempts_total',
  help: 'Webhook delivery attempts, by endpoint id and result',
  labelNames: ['endpoint', 'result'] as const,
});
const latency = histogram({
  name: 'webhook_attempt_duration_seconds',
  help: 'Time a webhook delivery attempt took, answer included',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
});
const failing = gauge({
  name: 'webhook_endpoints_failing',
  help: 'Enabled webhook endpoints whose latest attempts failed',
});
const disabled = counter({
  name: 'webhook_endpoints_disabled_total',
  help: 'Webhook endpoints disabled for failing longer than WEBHOOK_DISABLE_AFTER',
});

/** The webhooks' figures on GET /metrics (never a URL or a secret: endpoints by id). */
export const webhookMetrics = {
  attempt: (endpoint: string, result: AttemptOutcome, latencyMs: number) => {
    attempts.inc({ endpoint, result });
    latency.observe(latencyMs / 1000);
  },
  failing: (endpoints: number) => failing.set(endpoints),
  disabled: () => disabled.inc(),
};
