import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLoggerContract } from 'typeorm';

const MAX_SQL_LENGTH = 2000;

/** SQL on one line, shortened; parameter values are never part of it. */
export function sqlForLog(query: string): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_SQL_LENGTH ? `${flat.slice(0, MAX_SQL_LENGTH)}…` : flat;
}

function errorText(error: string | Error): string {
  return typeof error === 'string' ? error : error.message;
}

/**
 * TypeORM's log lines through the application's logger. Statements are not logged one by one;
 * slow ones (above `maxQueryExecutionTime`) and failed ones are, with their SQL but without their
 * parameter values, which may hold user data.
 */
export class TypeOrmLogger implements TypeOrmLoggerContract {
  constructor(
    private readonly logger: Pick<Logger, 'log' | 'warn' | 'error' | 'debug'> = new Logger(
      'TypeORM',
    ),
  ) {}

  logQuery(): void {
    // Every statement would drown the log; slow and failed ones are logged below.
  }

  logQuerySlow(time: number, query: string, _parameters?: unknown): void {
    this.logger.warn(`Slow query (${time} ms): ${sqlForLog(query)}`);
  }

  logQueryError(error: string | Error, query: string, _parameters?: unknown): void {
    this.logger.error(`Query failed: ${errorText(error)} | SQL: ${sqlForLog(query)}`);
  }

  logSchemaBuild(message: string): void {
    this.logger.log(message);
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    const text = message instanceof Error ? message.message : String(message);
    // Warnings include the pool's errors (a dropped connection); the rest is TypeORM's chatter.
    if (level === 'warn') this.logger.warn(text);
    else this.logger.debug(text);
  }
}
