import type { DataSource } from 'typeorm';
import {
  StatementAfterCommitError,
  TransactionHost,
  TransactionRolledBackError,
} from './transaction-host';

type Statement = string | { name: string; text: string; values: unknown[] };
type Answer = { command: string; rows: unknown[] };

const textOf = (statement: Statement): string =>
  typeof statement === 'string' ? statement : statement.text;

function fakeDataSource(answer: (sql: string) => Promise<Answer>) {
  const statements: Statement[] = [];
  const logQueryError = jest.fn();
  const release = jest.fn();
  const errorListeners = new Set<(error: Error) => void>();
  const query = (statement: Statement): Promise<Answer> => {
    statements.push(statement);
    return answer(textOf(statement));
  };
  const client = {
    query,
    release,
    on: (_event: 'error', listener: (error: Error) => void) => errorListeners.add(listener),
    removeListener: (_event: 'error', listener: (error: Error) => void) =>
      errorListeners.delete(listener),
  };
  const connect = jest.fn(() => Promise.resolve(client));
  const dataSource = {
    options: {},
    logger: { logQueryError, logQuerySlow: jest.fn() },
    driver: { master: { query, connect } },
  };
  return {
    dataSource: dataSource as unknown as DataSource,
    statements,
    texts: () => statements.map(textOf),
    logQueryError,
    connect,
    release,
    failConnection: (error: Error) => errorListeners.forEach((listener) => listener(error)),
    listeners: () => errorListeners.size,
  };
}

const ok = (sql: string): Promise<Answer> =>
  Promise.resolve({ command: sql.split(' ')[0], rows: [] });

/** Some drivers reject with plain strings rather than Errors. */
function plainReason(reason: string): Error {
  return reason as unknown as Error;
}

describe('TransactionHost', () => {
  it('runs nested work inside the transaction already open, on one client', async () => {
    const { dataSource, connect, texts, release } = fakeDataSource(ok);
    const tx = new TransactionHost(dataSource);

    const result = await tx.run(async () => {
      expect(tx.inTransaction).toBe(true);
      return tx.run(async () => {
        await tx.query('SELECT 1');
        return 'inner';
      });
    });

    expect(result).toBe('inner');
    expect(connect).toHaveBeenCalledTimes(1);
    expect(texts()).toEqual(['BEGIN', 'SELECT 1', 'COMMIT']);
    expect(release).toHaveBeenCalledWith(undefined);
    expect(tx.inTransaction).toBe(false);
  });

  it('sends each statement when it is asked for, so that unawaited ones leave together in order', async () => {
    const pending: (() => void)[] = [];
    const { dataSource, texts } = fakeDataSource((sql) =>
      sql === 'BEGIN' || sql === 'COMMIT'
        ? ok(sql)
        : new Promise((resolve) => pending.push(() => resolve({ command: 'SELECT', rows: [] }))),
    );
    const tx = new TransactionHost(dataSource);

    await tx.run(async () => {
      const first = tx.query('SELECT 1');
      const second = tx.query('SELECT 2');
      // Both are on the wire behind BEGIN before either is answered.
      expect(texts()).toEqual(['BEGIN', 'SELECT 1', 'SELECT 2']);
      pending.forEach((answer) => answer());
      await Promise.all([first, second]);
    });
    expect(texts()).toEqual(['BEGIN', 'SELECT 1', 'SELECT 2', 'COMMIT']);
  });

  it('sends COMMIT behind the statements issued, before they are answered, and only once', async () => {
    const pending: (() => void)[] = [];
    const { dataSource, texts, release } = fakeDataSource((sql) =>
      sql === 'BEGIN' || sql === 'COMMIT'
        ? ok(sql)
        : new Promise((resolve) => pending.push(() => resolve({ command: 'UPDATE', rows: [] }))),
    );
    const tx = new TransactionHost(dataSource);

    const result = await tx.run(async () => {
      const write = tx.query('UPDATE t SET x = 1');
      const committed = tx.commit();
      expect(texts()).toEqual(['BEGIN', 'UPDATE t SET x = 1', 'COMMIT']);
      // Later statements are refused without being sent: they would run outside the transaction.
      await expect(tx.query('UPDATE t SET x = 2')).rejects.toBeInstanceOf(
        StatementAfterCommitError,
      );
      pending.forEach((answer) => answer());
      await Promise.all([write, committed]);
      return 'done';
    });

    expect(result).toBe('done');
    expect(texts()).toEqual(['BEGIN', 'UPDATE t SET x = 1', 'COMMIT']);
    expect(release).toHaveBeenCalledWith(undefined);
    await expect(tx.commit()).rejects.toThrow('commit() outside a transaction');
  });

  it("holds the socket's writes back while a tick issues statements, then sends them as one", async () => {
    const { dataSource, texts } = fakeDataSource(ok);
    const stream = { corked: 0, flushes: [] as number[] };
    const client = (await (
      dataSource.driver as unknown as { master: { connect(): Promise<object> } }
    ).master.connect()) as { connection?: object };
    client.connection = {
      stream: {
        cork: () => stream.corked++,
        uncork: () => {
          stream.corked--;
          stream.flushes.push(texts().length);
        },
      },
    };
    const tx = new TransactionHost(dataSource);

    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    await tx.run(async () => {
      const first = [tx.query('SELECT 1'), tx.query('SELECT 2')];
      expect(stream.corked).toBe(1);
      expect(stream.flushes).toEqual([]);
      await turn();
      // BEGIN and both statements left in one write once the work issuing them yielded.
      expect(stream.flushes).toEqual([3]);
      await Promise.all(first);
      const last = [tx.query('SELECT 3'), tx.commit()];
      await turn();
      await Promise.all(last);
    });

    expect(stream.flushes).toEqual([3, 5]);
    expect(stream.corked).toBe(0);
  });

  it('fails the early commit, and the transaction, when the server rolls back instead', async () => {
    const failure = new Error('duplicate key');
    const { dataSource, texts } = fakeDataSource((sql) =>
      sql === 'COMMIT'
        ? Promise.resolve({ command: 'ROLLBACK', rows: [] })
        : sql === 'INSERT'
          ? Promise.reject(failure)
          : ok(sql),
    );
    const tx = new TransactionHost(dataSource);
    let early: unknown;

    await expect(
      tx.run(async () => {
        const write = tx.query('INSERT');
        const committed = tx.commit().catch((error: unknown) => {
          early = error;
        });
        await Promise.all([write, committed]);
      }),
    ).rejects.toBe(failure);

    expect(early).toBeInstanceOf(TransactionRolledBackError);
    expect(texts()).toEqual(['BEGIN', 'INSERT', 'COMMIT', 'ROLLBACK']);
  });

  it('rolls back and rethrows when the work fails, and returns the client', async () => {
    const { dataSource, texts, release, listeners } = fakeDataSource(ok);
    const tx = new TransactionHost(dataSource);

    await expect(
      tx.run(async () => {
        await tx.query('UPDATE t SET x = 1');
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');

    expect(texts()).toEqual(['BEGIN', 'UPDATE t SET x = 1', 'ROLLBACK']);
    expect(release).toHaveBeenCalledWith(undefined);
    expect(listeners()).toBe(0);
  });

  it('fails when the server ends the transaction with ROLLBACK instead of COMMIT', async () => {
    const { dataSource, release } = fakeDataSource((sql) =>
      sql === 'COMMIT' ? Promise.resolve({ command: 'ROLLBACK', rows: [] }) : ok(sql),
    );
    const tx = new TransactionHost(dataSource);

    await expect(tx.run(() => tx.query('SELECT 1'))).rejects.toBeInstanceOf(
      TransactionRolledBackError,
    );
    expect(release).toHaveBeenCalledTimes(1);
  });

  it('discards a client whose connection failed during the transaction', async () => {
    const lost = new Error('connection terminated');
    const { dataSource, release, failConnection } = fakeDataSource((sql) =>
      sql === 'SELECT 1' || sql === 'ROLLBACK' ? Promise.reject(lost) : ok(sql),
    );
    const tx = new TransactionHost(dataSource);

    await expect(
      tx.run(async () => {
        failConnection(lost);
        await tx.query('SELECT 1');
      }),
    ).rejects.toBe(lost);
    expect(release).toHaveBeenCalledWith(lost);
  });

  it('names each distinct statement once and passes its values', async () => {
    const { dataSource, statements } = fakeDataSource(() =>
      Promise.resolve({ command: 'SELECT', rows: [{ n: 1 }] }),
    );
    const tx = new TransactionHost(dataSource);

    expect(await tx.one('SELECT $1::int AS n', [1])).toEqual({ n: 1 });
    await tx.query('SELECT $1::int AS n', [2]);
    await tx.query('SELECT 2');

    const named = statements.filter((statement) => typeof statement !== 'string');
    expect(named).toHaveLength(3);
    expect(named[0].name).toMatch(/^s_[0-9a-f]{20}$/);
    expect(named[1].name).toBe(named[0].name);
    expect(named[2].name).not.toBe(named[0].name);
    expect(named.map((statement) => statement.values)).toEqual([[1], [2], []]);
  });

  it('logs and rethrows a failed statement, whatever was thrown', async () => {
    const { dataSource, logQueryError } = fakeDataSource(() =>
      Promise.reject(plainReason('server gone')),
    );
    const tx = new TransactionHost(dataSource);

    await expect(tx.query('SELECT 1')).rejects.toBe('server gone');
    expect(logQueryError).toHaveBeenCalledWith('server gone', 'SELECT 1');
  });
});
