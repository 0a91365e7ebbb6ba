import { DomainError, TooManyRequestsError } from '../common/errors/domain-error';
import { answerOk, FakePgDatabase } from './pg-pool.fixture';
import type { PgResult } from './transaction-host';
import { ReportingTransactionHost } from './work-pools';

/** A database whose SELECTs wait until the test answers them (or fail with `error`). */
function heldDatabase() {
  const held: { sql: string; answer: () => void; fail: (error: Error) => void }[] = [];
  const db = new FakePgDatabase((sql) =>
    /^(BEGIN|COMMIT|ROLLBACK)$/.test(sql)
      ? answerOk(sql)
      : new Promise<PgResult>((resolve, reject) =>
          held.push({ sql, answer: () => resolve({ command: 'SELECT', rows: [] }), fail: reject }),
        ),
  );
  return { db, held };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

const statementTimeout = () =>
  Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });

describe('ReportingTransactionHost', () => {
  const config = { poolSize: 1, queue: 1, statementTimeoutMs: 3000 };

  it('runs pool-size statements, queues the next ones, refuses the rest with REPORTING_BUSY', async () => {
    const { db, held } = heldDatabase();
    const host = new ReportingTransactionHost(db, config);
    const shed: string[] = [];
    host.onShed((reason) => shed.push(reason));

    const running = host.query('SELECT 1');
    const queued = host.query('SELECT 2');
    const refused = await host.query('SELECT 3').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect(refused).toMatchObject({ code: 'REPORTING_BUSY', retryAfterSeconds: 1 });
    expect(shed).toEqual(['queue-full']);
    await flush();
    expect(held.map((h) => h.sql)).toEqual(['SELECT 1']);

    held[0].answer();
    await running;
    await flush();
    expect(held.map((h) => h.sql)).toEqual(['SELECT 1', 'SELECT 2']);
    held[1].answer();
    await queued;
  });

  it('refuses a statement that waited longer than the statement timeout', async () => {
    jest.useFakeTimers();
    try {
      const { db, held } = heldDatabase();
      const host = new ReportingTransactionHost(db, config);
      const running = host.query('SELECT 1');
      const waited = host.query('SELECT 2').catch((error: unknown) => error);
      jest.advanceTimersByTime(3000);
      expect(await waited).toMatchObject({ code: 'REPORTING_BUSY', retryAfterSeconds: 3 });
      held[0].answer();
      await running;
      expect(held.map((h) => h.sql)).toEqual(['SELECT 1']);
    } finally {
      jest.useRealTimers();
    }
  });

  it('answers a statement the server cut off as REPORT_TIMEOUT, and frees its turn', async () => {
    const { db, held } = heldDatabase();
    const host = new ReportingTransactionHost(db, config);
    const cut = host.query('SELECT pg_sleep(10)').catch((error: unknown) => error);
    const next = host.query('SELECT 1');
    await flush();
    held[0].fail(statementTimeout());
    const error = await cut;
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'REPORT_TIMEOUT' });
    await flush();
    held[1].answer();
    await next;
  });

  it('passes any other failure through as it is', async () => {
    const { db, held } = heldDatabase();
    const host = new ReportingTransactionHost(db, config);
    const failed = host.query('SELECT 1').catch((error: unknown) => error);
    await flush();
    const failure = new Error('relation "x" does not exist');
    held[0].fail(failure);
    expect(await failed).toBe(failure);
  });

  it('gives a transaction one turn for all its statements', async () => {
    const db = new FakePgDatabase(answerOk);
    const host = new ReportingTransactionHost(db, config);
    const rows = await host.run(async () => {
      await host.query('SELECT 1');
      return host.query('SELECT 2');
    });
    expect(rows).toEqual([]);
    expect(db.texts()).toEqual(['BEGIN', 'SELECT 1', 'SELECT 2', 'COMMIT']);
  });

  it('without a gate (the CLIs), sends every statement to the pool', async () => {
    const { db, held } = heldDatabase();
    const host = new ReportingTransactionHost(db);
    const answers = [host.query('SELECT 1'), host.query('SELECT 2'), host.query('SELECT 3')];
    await flush();
    expect(held).toHaveLength(3);
    held.forEach((h) => h.answer());
    await Promise.all(answers);
  });
});
