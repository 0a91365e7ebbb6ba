// First: tracing, when on, must patch modules before anything requires them.
import './instrumentation';
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory';
import { stopTracing } from './common/tracing/tracer';
import { buildConfig, ConfigError } from './config/configuration';
import { resolveDatabase } from './database/database-connection';

async function bootstrap(): Promise<void> {
  const startedAt = Date.now();
  const config = buildConfig(process.env);
  const logger = new Logger('Bootstrap');

  const database = await resolveDatabase(config.database);
  if (database.embedded !== undefined) {
    logger.log(
      `Embedded PostgreSQL ready at ${database.url.replace(/:[^:@/]+@/, ':***@')} (data in ${config.database.embedded.dir})`,
    );
  }
  config.database.url = database.url;

  const app = await createApp(config);
  if (config.adminTokenGenerated) {
    // Logged once: the only way to learn a token the operator did not set.
    logger.warn(
      `ADMIN_TOKEN is not set; generated admin token for this process: ${config.adminToken}`,
    );
  }
  await app.listen({ port: config.port, host: config.host });
  logger.log(
    `Listening on http://${config.host}:${config.port} (docs at /docs) after ${Date.now() - startedAt} ms`,
  );

  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received: finishing in-flight requests, then stopping`);
    // In-flight requests finish, the pool closes, then the embedded server (if any) stops.
    void app
      .close()
      .then(() => database.embedded?.stop())
      .then(() => stopTracing())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error(`Shutdown failed: ${String(error)}`);
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

bootstrap().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error('Failed to start:', error);
  }
  process.exit(1);
});
