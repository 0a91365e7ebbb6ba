import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/configuration';
import { ENTITIES } from './entities';
import { TypeOrmLogger } from './typeorm-logger';

export function dataSourceOptions(
  url: string,
  config: Pick<DatabaseConfig, 'poolSize' | 'slowQueryMs'>,
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: [join(__dirname, 'migrations', '*.{js,ts}')],
    migrationsTableName: 'migrations',
    // The schema only ever changes through reviewed migrations.
    synchronize: false,
    migrationsRun: false,
    // Statements slower than this are logged as warnings (SQL only, no parameter values).
    maxQueryExecutionTime: config.slowQueryMs,
    logger: new TypeOrmLogger(),
    extra: {
      max: config.poolSize,
      // Under load requests queue for a connection: waiting is not a failure. An unreachable
      // server still fails at once (connection refused).
      connectionTimeoutMillis: 20_000,
      idleTimeoutMillis: 30_000,
      application_name: 'purchase-saga-service',
      // Nothing waits forever: a hung statement or an abandoned transaction is cut off.
      statement_timeout: 15_000,
      idle_in_transaction_session_timeout: 30_000,
      // Plan every statement for the tables as they are now. A plan cached for the connection's
      // lifetime is made when it first runs, maybe on tables still nearly empty, and only
      // statistics refreshed by ANALYZE would replace it: on a server without autovacuum that
      // plan (a sequential scan of every saga) would stay while the tables grow.
      options: '-c plan_cache_mode=force_custom_plan',
    },
  };
}
