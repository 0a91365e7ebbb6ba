import { FastifyOtelInstrumentation } from '@fastify/otel';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { setTracingStop } from './common/tracing/tracer';

/** Probes and scrapers: a trace per call would drown the purchases. */
const UNTRACED_PATHS = new Set(['/health', '/metrics']);

export interface TracingOptions {
  /** Where spans go; by default the OTLP exporter the `OTEL_*` variables configure. */
  spanProcessors?: SpanProcessor[];
}

export interface Tracing {
  /** Exports what is buffered, stops the SDK and removes the instrumentations' patches. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK for traces only (no metrics or logs exporters: the service has its
 * own /metrics and logs), with the HTTP server (incoming `traceparent` honoured), Fastify's
 * routes (@fastify/otel), pg and ioredis instrumented. The instrumentations patch modules as they
 * are required: this runs before anything loads `http`, `fastify`, `pg` or `ioredis` (src/main.ts
 * loads src/instrumentation.ts first). pg spans carry the SQL text (parameterized: it holds no
 * values) and no parameters; ioredis spans the command name alone. Sampling, endpoint, protocol
 * and service name come from the standard `OTEL_*` variables.
 */
export function startTracing(options: TracingOptions = {}): Tracing {
  const instrumentations: Instrumentation[] = [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0]),
      // Outgoing calls are the OTLP exporter's own and the webhooks' (which send traceparent).
      disableOutgoingRequestInstrumentation: true,
    }),
    new FastifyOtelInstrumentation({
      registerOnInitialization: true,
      // The request and its handler; a span per framework hook (Nest's middleware runner, the
      // service's own hooks) would add ten spans a request and say nothing about a purchase.
      instrumentHooks: false,
      ignorePaths: (route) => UNTRACED_PATHS.has(route.url),
    }),
    new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
    new IORedisInstrumentation({
      dbStatementSerializer: (command) => command,
      requireParentSpan: true,
    }),
  ];
  const sdk = new NodeSDK({
    ...(process.env.OTEL_SERVICE_NAME === undefined
      ? { serviceName: 'purchase-saga-service' }
      : {}),
    ...(options.spanProcessors === undefined ? {} : { spanProcessors: options.spanProcessors }),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations,
  });
  sdk.start();
  const shutdown = async (): Promise<void> => {
    setTracingStop(undefined);
    for (const instrumentation of instrumentations) instrumentation.disable();
    await sdk.shutdown();
  };
  setTracingStop(shutdown);
  return { shutdown };
}
