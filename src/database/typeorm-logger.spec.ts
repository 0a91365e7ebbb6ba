import { sqlForLog, TypeOrmLogger } from './typeorm-logger';

function recorder() {
  const lines: { level: 'log' | 'warn' | 'error' | 'debug'; text: string }[] = [];
  const sink = {
    log: (text: string) => lines.push({ level: 'log', text }),
    warn: (text: string) => lines.push({ level: 'warn', text }),
    error: (text: string) => lines.push({ level: 'error', text }),
    debug: (text: string) => lines.push({ level: 'debug', text }),
  };
  return { lines, logger: new TypeOrmLogger(sink) };
}

const SQL = `UPDATE users
   SET balance = balance - $2
 WHERE user_id = $1`;
const SECRET_PARAMS = ['user-secret-42', '123.45'];

describe('TypeOrmLogger', () => {
  it('logs a slow query as a warning with its duration and SQL, never its parameters', () => {
    const { lines, logger } = recorder();
    logger.logQuerySlow(1234, SQL, SECRET_PARAMS);
    expect(lines).toHaveLength(1);
    expect(lines[0].level).toBe('warn');
    expect(lines[0].text).toContain('1234 ms');
    expect(lines[0].text).toContain('UPDATE users SET balance = balance - $2 WHERE user_id = $1');
    expect(lines[0].text).not.toContain('user-secret-42');
    expect(lines[0].text).not.toContain('123.45');
  });

  it('logs a failed query at error level with the error and SQL, never its parameters', () => {
    const { lines, logger } = recorder();
    logger.logQueryError(new Error('deadlock detected'), SQL, SECRET_PARAMS);
    logger.logQueryError('connection lost', 'SELECT 1', ['hidden-value']);
    expect(lines.map((l) => l.level)).toEqual(['error', 'error']);
    expect(lines[0].text).toContain('deadlock detected');
    expect(lines[0].text).toContain('WHERE user_id = $1');
    expect(lines[0].text).not.toContain('user-secret-42');
    expect(lines[1].text).toContain('connection lost');
    expect(lines[1].text).not.toContain('hidden-value');
  });

  it('does not log ordinary statements', () => {
    const { lines, logger } = recorder();
    logger.logQuery();
    expect(lines).toEqual([]);
  });

  it('passes warnings (pool errors) on as warnings, its other chatter as debug lines', () => {
    const { lines, logger } = recorder();
    logger.log('warn', 'Postgres pool raised an error');
    logger.log('info', 'connected');
    logger.logMigration('Migration X has been executed');
    expect(lines).toEqual([
      { level: 'warn', text: 'Postgres pool raised an error' },
      { level: 'debug', text: 'connected' },
      { level: 'log', text: 'Migration X has been executed' },
    ]);
  });

  it('flattens and shortens long SQL', () => {
    expect(sqlForLog('SELECT\n  1,\n\t2')).toBe('SELECT 1, 2');
    const long = `SELECT ${'x, '.repeat(2000)}1`;
    const shown = sqlForLog(long);
    expect(shown.length).toBe(2001);
    expect(shown.endsWith('…')).toBe(true);
  });
});
