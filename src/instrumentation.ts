import { existsSync } from 'node:fs';
import { tracingRequested } from './common/tracing/tracing-switch';

// Loaded by src/main.ts before anything else: the tracing instrumentations patch `http`,
// `fastify`, `pg` and `ioredis` as they are required, so the SDK starts before they are. When the
// environment does not ask for tracing, the SDK is not even loaded.
if (existsSync('.env')) process.loadEnvFile('.env');
if (tracingRequested(process.env)) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('./tracing') as typeof import('./tracing')).startTracing();
}
