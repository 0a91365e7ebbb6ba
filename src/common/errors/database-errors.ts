import { errorMessage } from './error-message';

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  'EHOSTUNREACH',
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as { code?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof record.code === 'string') return record.code;
  return codeOf(record.driverError) ?? codeOf(record.cause);
}

/**
 * True when the error says the database cannot be reached or is shutting down (as opposed to a
 * statement that failed): the request should get 503, and the work is worth retrying.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined) {
    if (CONNECTION_ERROR_CODES.has(code)) return true;
    // SQLSTATE class 08 (connection exception), 57P01-03 (admin shutdown, crash shutdown, cannot
    // connect now), 53300 (too many connections).
    // 3D000/28xxx (database gone, credentials refused), 53300 (too many connections).
    if (/^08/.test(code) || /^57P0[1-3]$/.test(code) || /^28/.test(code)) return true;
    if (code === '53300' || code === '3D000') return true;
  }
  const message = errorMessage(error);
  return /is not currently accepting connections|the database system is (starting up|shutting down)|Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
    message,
  );
}

/** The server cancelled a statement that ran past its statement_timeout (SQLSTATE 57014). */
export function isStatementTimeout(error: unknown): boolean {
  return codeOf(error) === '57014' && /statement timeout/i.test(errorMessage(error));
}

/** Serialization failures and deadlocks: the transaction may simply be run again. */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = codeOf(error);
  return code === '40001' || code === '40P01' || isDatabaseUnavailable(error);
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (codeOf(error) !== '23505') return false;
  if (constraint === undefined) return true;
  const record = error as { driverError?: { constraint?: string }; constraint?: string };
  return (record.driverError?.constraint ?? record.constraint) === constraint;
}

/**
 * A statement refused for the data it was given (SQLSTATE class 22: text the database cannot
 * store, a number out of range...): the request's fault, not the service's. Answers what to tell
 * the client, or undefined for any other error.
 */
export function dataErrorMessage(error: unknown): string | undefined {
  const code = codeOf(error);
  if (code === undefined || !code.startsWith('22')) return undefined;
  if (code === '22003') return 'A number is out of the range the service can store';
  if (code === '22001') return 'A text is longer than the service can store';
  return 'A value of the request cannot be stored (invalid text or format)';
}
