import { join } from 'node:path';
import type { PoolConfig } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/configuration';
import { ENTITIES } from './entities';
import { TypeOrmLogger } from './typeorm-logger';

/**
 * What sets one of the service's pools apart; everything else about its connections is the same
 * (see poolOptions).
 */
export interface PoolSettings {
  /** How its sessions are named in pg_stat_activity. */
  applicationName: string;
  size: number;
  /** A statement running longer is cancelled by the server. */
  statementTimeoutMs: number;
  /** How long a caller waits for a connection (being opened, or another's being handed back). */
  connectionWaitMs: number;
}

/** The purchase path's pool: TypeORM's own. */
export const PURCHASE_POOL: Omit<PoolSettings, 'size'> = {
  applicationName: 'purchase-saga-service',
  statementTimeoutMs: 15_000,
  // Under load requests queue for a connection: waiting is not a failure. An unreachable
  // server still fails at once (connection refused).
  connectionWaitMs: 20_000,
};

/** The options of a pg pool of the service (TypeORM's, and the pools of reports and jobs). */
export function poolOptions(settings: PoolSettings): PoolConfig {
  return {
    max: settings.size,
    connectionTimeoutMillis: settings.connectionWaitMs,
    idleTimeoutMillis: 30_000,
    application_name: settings.applicationName,
    // Statements issued without awaiting each other leave together instead of one per round
    // trip (the server still runs them in order): a transaction's BEGIN travels with its first
    // statement, and a step batch sends its steps' statements at once (see TransactionHost).
    pipeline: true,
    // Nothing waits forever: a hung statement or an abandoned transaction is cut off.
    statement_timeout: settings.statementTimeoutMs,
    idle_in_transaction_session_timeout: 30_000,
    // Every statement of the service reaches its rows by key, so its connections plan without
    // sequential scans. A prepared statement's generic plan is cached for the connection's
    // lifetime and may be made on tables still nearly empty; with sequential scans allowed,
    // on a server without autovacuum (so without fresh statistics) that plan would scan every
    // saga while the tables grow. Planning afresh each time instead costs about a fifth of the
    // database's time per purchase. Work that does read whole tables (the integrity
    // reconciliation) allows them again for its own transaction.
    // No JIT compilation either: a statement left with a sequential scan carries that scan's
    // penalty in its estimated cost, which then passes the JIT threshold, and compiling takes
    // far longer (hundreds of milliseconds) than running any of the service's statements.
    options: '-c enable_seqscan=off -c jit=off',
  };
}

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
    extra: poolOptions({ ...PURCHASE_POOL, size: config.poolSize }),
  };
}
