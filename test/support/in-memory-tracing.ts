import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { startTracing } from '../../src/tracing';

/**
 * Tracing on, in this test file, with every span kept in memory. Imported before anything else in
 * the file: the instrumentations patch modules as they are loaded.
 */
export const exporter = new InMemorySpanExporter();
export const tracing = startTracing({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
