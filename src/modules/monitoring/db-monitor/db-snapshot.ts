import type { PoolUsage } from '../../../database/pg-pool';

export type { PoolUsage };

/** What the DB performance monitor records on each run. */
export interface DbSnapshot {
  takenAt: Date;
  /** How long taking this snapshot took. */
  durationMs: number;
  /** Server sessions on this service's database (pg_stat_activity), by state. */
  connections: { total: number; byState: Record<string, number> };
  /** This instance's connection pool; null when the driver exposes none. */
  pool: PoolUsage | null;
  /** blks_hit / (blks_hit + blks_read) of this database; null before any block was read. */
  cacheHitRatio: number | null;
  tables: TableSize[];
  slowQueries: SlowQueries;
}

export interface TableSize {
  table: string;
  /** The planner's row estimate; null until the table was first analyzed. */
  rowEstimate: number | null;
  tableBytes: number;
  indexBytes: number;
  totalBytes: number;
  indexes: { name: string; bytes: number; scans: number | null }[];
}

export interface SlowStatement {
  queryId: string | null;
  calls: number;
  meanExecTimeMs: number;
  totalExecTimeMs: number;
  rows: number;
  query: string;
}

export interface SlowQueries {
  /** Whether pg_stat_statements could be read in this database. */
  available: boolean;
  /** Why it could not, when it could not. */
  reason: string | null;
  /** Statements whose mean execution time is at least this (SLOW_QUERY_MS). */
  thresholdMs: number;
  /** How many statements are at or above the threshold (the list shows the slowest ones). */
  matching: number;
  statements: SlowStatement[];
}

/** What the server says about pg_stat_statements. */
export interface StatStatementsState {
  serverVersionNum: number;
  /** The extension exists in this database (pg_extension), and in which schema. */
  installedSchema: string | null;
  /** The server ships the extension (pg_available_extensions). */
  shippedWithServer: boolean;
  /** shared_preload_libraries names it; null when this role may not read the setting. */
  preloaded: boolean | null;
}

export type StatStatementsPlan =
  { action: 'read'; schema: string } | { action: 'create' } | { action: 'none'; reason: string };

/**
 * Whether pg_stat_statements can be read, or created first. Creating it is only tried when the
 * server ships it and preloads its library, so that it works at once and harms nothing.
 */
export function statStatementsPlan(state: StatStatementsState): StatStatementsPlan {
  if (state.serverVersionNum < 130000) {
    return {
      action: 'none',
      reason: `PostgreSQL 13 or later is needed (the server is version ${state.serverVersionNum})`,
    };
  }
  if (state.preloaded === false) {
    return {
      action: 'none',
      reason:
        'pg_stat_statements is not in shared_preload_libraries on this server, so it records nothing',
    };
  }
  if (state.installedSchema !== null) return { action: 'read', schema: state.installedSchema };
  if (!state.shippedWithServer) {
    return {
      action: 'none',
      reason: 'The pg_stat_statements extension is not available on this server',
    };
  }
  if (state.preloaded === null) {
    return {
      action: 'none',
      reason:
        'pg_stat_statements is not installed in this database, and this role cannot tell whether the server preloads it',
    };
  }
  return { action: 'create' };
}

export function cacheHitRatio(blocksHit: number, blocksRead: number): number | null {
  const total = blocksHit + blocksRead;
  return total === 0 ? null : Math.round((blocksHit / total) * 10_000) / 10_000;
}

/** `"name"`: an identifier the server itself reported, quoted for use as an identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
