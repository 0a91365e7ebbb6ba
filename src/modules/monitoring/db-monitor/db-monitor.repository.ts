import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { driverPool, poolUsageOf, type PoolUsage } from '../../../database/pg-pool';
import { JobsTransactionHost } from '../../../database/work-pools';
import { quoteIdentifier, SlowStatement, StatStatementsState, TableSize } from './db-snapshot';

/** The monitor's statements never hold a connection for long. */
const STATEMENT_TIMEOUT_MS = 5000;

/** The tables of the entities and the migrations table, once each and sorted. */
export function serviceTablesOf(
  entityTables: readonly string[],
  migrationsTable = 'migrations',
): string[] {
  return [...new Set([...entityTables, migrationsTable])].sort();
}

/** The DB performance monitor's reads of PostgreSQL's statistics views and of the pool. */
@Injectable()
export class DbMonitorRepository {
  constructor(
    private readonly tx: JobsTransactionHost,
    private readonly dataSource: DataSource,
  ) {}

  /** Runs `work` in one read transaction with a short statement timeout. */
  run<T>(work: () => Promise<T>): Promise<T> {
    return this.tx.run(async () => {
      await this.tx.query(`SELECT set_config('statement_timeout', $1, true)`, [
        String(STATEMENT_TIMEOUT_MS),
      ]);
      return work();
    });
  }

  /** The tables this service owns (its entities and the migrations table). */
  serviceTables(): string[] {
    return serviceTablesOf(
      this.dataSource.entityMetadatas.map((meta) => meta.tableName),
      this.dataSource.options.migrationsTableName,
    );
  }

  /** The TypeORM pool (pg Pool) of this instance. */
  poolUsage(): PoolUsage | null {
    return poolUsageOf(driverPool(this.dataSource));
  }

  async connectionsByState(): Promise<Record<string, number>> {
    const rows = await this.tx.query<{ state: string; count: number }>(
      `SELECT COALESCE(state, 'unknown') AS state, count(*)::int AS count
         FROM pg_stat_activity
        WHERE datname = current_database()
        GROUP BY 1
        ORDER BY 1`,
    );
    return Object.fromEntries(rows.map((row) => [row.state, row.count]));
  }

  async blockCounts(): Promise<{ hit: number; read: number }> {
    const row = await this.tx.one<{ hit: string; read: string }>(
      `SELECT blks_hit::text AS hit, blks_read::text AS read
         FROM pg_stat_database
        WHERE datname = current_database()`,
    );
    return { hit: Number(row?.hit ?? 0), read: Number(row?.read ?? 0) };
  }

  async tableSizes(tables: string[]): Promise<TableSize[]> {
    const sizes = await this.tx.query<{
      table: string;
      rowEstimate: string;
      tableBytes: string;
      indexBytes: string;
      totalBytes: string;
    }>(
      `SELECT c.relname AS table,
              c.reltuples::bigint::text AS "rowEstimate",
              pg_relation_size(c.oid)::text AS "tableBytes",
              pg_indexes_size(c.oid)::text AS "indexBytes",
              pg_total_relation_size(c.oid)::text AS "totalBytes"
         FROM unnest($1::text[]) AS t(name)
         JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.name))
        ORDER BY c.relname`,
      [tables],
    );
    const indexes = await this.tx.query<{
      table: string;
      name: string;
      bytes: string;
      scans: string | null;
    }>(
      `SELECT t.relname AS table, i.relname AS name, pg_relation_size(i.oid)::text AS bytes,
              s.idx_scan::text AS scans
         FROM unnest($1::text[]) AS n(name)
         JOIN pg_class t ON t.oid = to_regclass(quote_ident(n.name))
         JOIN pg_index x ON x.indrelid = t.oid
         JOIN pg_class i ON i.oid = x.indexrelid
         LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.oid
        ORDER BY t.relname, i.relname`,
      [tables],
    );
    return sizes.map((row) => {
      const estimate = Number(row.rowEstimate);
      return {
        table: row.table,
        rowEstimate: estimate < 0 ? null : estimate,
        tableBytes: Number(row.tableBytes),
        indexBytes: Number(row.indexBytes),
        totalBytes: Number(row.totalBytes),
        indexes: indexes
          .filter((index) => index.table === row.table)
          .map((index) => ({
            name: index.name,
            bytes: Number(index.bytes),
            scans: index.scans === null ? null : Number(index.scans),
          })),
      };
    });
  }

  async statStatementsState(): Promise<StatStatementsState> {
    const row = await this.tx.one<{
      version: number;
      schema: string | null;
      shipped: boolean;
      preload: string | null;
    }>(
      `SELECT current_setting('server_version_num')::int AS version,
              (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                WHERE e.extname = 'pg_stat_statements') AS schema,
              EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')
                AS shipped,
              (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload`,
    );
    if (row === undefined) throw new Error('No answer about pg_stat_statements');
    return {
      serverVersionNum: row.version,
      installedSchema: row.schema,
      shippedWithServer: row.shipped,
      preloaded:
        row.preload === null
          ? null
          : row.preload
              .split(',')
              .map((name) => name.trim().replace(/^"|"$/g, ''))
              .includes('pg_stat_statements'),
    };
  }

  /** Creates the extension in this database; the caller has checked that this is harmless. */
  async createStatStatements(): Promise<string> {
    await this.tx.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const row = await this.tx.one<{ schema: string }>(
      `SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements'`,
    );
    if (row === undefined) throw new Error('pg_stat_statements was not created');
    return row.schema;
  }

  /** Statements of this database whose mean execution time is at least `thresholdMs`. */
  async slowStatements(
    schema: string,
    thresholdMs: number,
    limit: number,
  ): Promise<{ matching: number; statements: SlowStatement[] }> {
    // The view's schema is an identifier reported by the server (pg_extension), not a value.
    const view = `${quoteIdentifier(schema)}.pg_stat_statements`;
    const rows = await this.tx.query<{
      queryId: string | null;
      calls: string;
      meanExecTimeMs: number;
      totalExecTimeMs: number;
      rows: string;
      query: string;
      matching: number;
    }>(
      `SELECT queryid::text AS "queryId",
              calls::text AS calls,
              mean_exec_time AS "meanExecTimeMs",
              total_exec_time AS "totalExecTimeMs",
              rows::text AS rows,
              left(regexp_replace(query, '\\s+', ' ', 'g'), 1000) AS query,
              count(*) OVER ()::int AS matching
         FROM ${view}
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND mean_exec_time >= $1
        ORDER BY mean_exec_time DESC
        LIMIT $2`,
      [thresholdMs, limit],
    );
    return {
      matching: rows[0]?.matching ?? 0,
      statements: rows.map((row) => ({
        queryId: row.queryId,
        calls: Number(row.calls),
        meanExecTimeMs: Math.round(row.meanExecTimeMs * 1000) / 1000,
        totalExecTimeMs: Math.round(row.totalExecTimeMs * 1000) / 1000,
        rows: Number(row.rows),
        query: row.query,
      })),
    };
  }
}
