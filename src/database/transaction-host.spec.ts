import { DataSource } from 'typeorm';
import { answerOk as ok, FakePgDatabase } from './pg-pool.fixture';
import {
  StatementAfterCommitError,
  TransactionHost,
  TransactionRolledBackError,
  typeormDatabase,
} from './transaction-host';

describe('TransactionHost', () => {
  it('runs nested work inside the transaction already open, on one client', async () => {
    const db = new FakePgDatabase(ok);
    const tx = new TransactionHost(db);

    const result = await tx.run(async () => {
      expect(tx.inTransaction).toBe(true);
      return tx.run(async () => {
        await tx.query('SELECT 1');
        return 'inner';
      });
    });

    expect(result).toBe('inner');
    expect(db.connects).toBe(1);
    expect(db.texts()).toEqual(['BEGIN', 'SELECT 1', 'COMMIT']);
    expect(db.released).toEqual([undefined]);
    expect(tx.inTransaction).toBe(false);
  });

  it('sends each statement when it is asked for, so that unawaited ones leave together in order', async () => {
    const pending: (() => void)[] = [];
    const db = new FakePgDatabase((sql) =>
      sql === 'BEGIN' || sql === 'COMMIT'
        ? ok(sql)
        : new Promise((resolve) => pending.push(() => resolve({ command: 'SELECT', rows: [] }))),
    );
    const tx = new TransactionHost(db);

    await tx.run(async () => {
      const first = tx.query('SELECT 1');
      const second = tx.query('SELECT 2');
      // Both are on the wire behind BEGIN before either is answered.
      expect(db.texts()).toEqual(['BEGIN', 'SELECT 1', 'SELECT 2']);
      pending.forEach((answer) => answer());
      await Promise.all([first, second]);
    });
    expect(db.texts()).toEqual(['BEGIN', 'SELECT 1', 'SELECT 2', 'COMMIT']);
  });

  it('sends COMMIT behind the statements issued, before they are answered, and only once', async () => {
    const pending: (() => void)[] = [];
    const db = new FakePgDatabase((sql) =>
      sql === 'BEGIN' || sql === 'COMMIT'
        ? ok(sql)
        : new Promise((resolve) => pending.push(() => resolve({ command: 'UPDATE', rows: [] }))),
    );
    const tx = new TransactionHost(db);

    const result = await tx.run(async () => {
      const write = tx.query('UPDATE t SET x = 1');
      const committed = tx.commit();
      expect(db.texts()).toEqual(['BEGIN', 'UPDATE t SET x = 1', 'COMMIT']);
      // Later statements are refused without being sent: they would run outside the transaction.
      await expect(tx.query('UPDATE t SET x = 2')).rejects.toBeInstanceOf(
        StatementAfterCommitError,
      );
      pending.forEach((answer) => answer());
      await Promise.all([write, committed]);
      return 'done';
    });

    expect(result).toBe('done');
    expect(db.texts()).toEqual(['BEGIN', 'UPDATE t SET x = 1', 'COMMIT']);
    expect(db.released).toEqual([undefined]);
    await expect(tx.commit()).rejects.toThrow('commit() outside a transaction');
  });

  it("holds the socket's writes back while a tick issues statements, then sends them as one", async () => {
    const db = new FakePgDatabase(ok);
    const stream = { corked: 0, flushes: [] as number[] };
    db.client.connection = {
      stream: {
        cork: () => stream.corked++,
        uncork: () => {
          stream.corked--;
          stream.flushes.push(db.texts().length);
        },
      },
    };
    const tx = new TransactionHost(db);

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
    const db = new FakePgDatabase((sql) =>
      sql === 'COMMIT'
        ? Promise.resolve({ command: 'ROLLBACK', rows: [] })
        : sql === 'INSERT'
          ? Promise.reject(failure)
          : ok(sql),
    );
    const tx = new TransactionHost(db);
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
    expect(db.texts()).toEqual(['BEGIN', 'INSERT', 'COMMIT', 'ROLLBACK']);
  });

  it('rolls back and rethrows when the work fails, and returns the client', async () => {
    const db = new FakePgDatabase(ok);
    const tx = new TransactionHost(db);

    await expect(
      tx.run(async () => {
        await tx.query('UPDATE t SET x = 1');
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');

    expect(db.texts()).toEqual(['BEGIN', 'UPDATE t SET x = 1', 'ROLLBACK']);
    expect(db.released).toEqual([undefined]);
    expect(db.listeners).toBe(0);
  });

  it('fails when the server ends the transaction with ROLLBACK instead of COMMIT', async () => {
    const db = new FakePgDatabase((sql) =>
      sql === 'COMMIT' ? Promise.resolve({ command: 'ROLLBACK', rows: [] }) : ok(sql),
    );
    const tx = new TransactionHost(db);

    await expect(tx.run(() => tx.query('SELECT 1'))).rejects.toBeInstanceOf(
      TransactionRolledBackError,
    );
    expect(db.released).toHaveLength(1);
  });

  it('discards a client whose connection failed during the transaction', async () => {
    const lost = new Error('connection terminated');
    const db = new FakePgDatabase((sql) =>
      sql === 'SELECT 1' || sql === 'ROLLBACK' ? Promise.reject(lost) : ok(sql),
    );
    const tx = new TransactionHost(db);

    await expect(
      tx.run(async () => {
        db.failConnection(lost);
        await tx.query('SELECT 1');
      }),
    ).rejects.toBe(lost);
    expect(db.released).toEqual([lost]);
  });

  it('names each distinct statement once and passes its values', async () => {
    const db = new FakePgDatabase(() => Promise.resolve({ command: 'SELECT', rows: [{ n: 1 }] }));
    const tx = new TransactionHost(db);

    expect(await tx.one('SELECT $1::int AS n', [1])).toEqual({ n: 1 });
    await tx.query('SELECT $1::int AS n', [2]);
    await tx.query('SELECT 2');

    const named = db.statements.filter((statement) => typeof statement !== 'string');
    expect(named).toHaveLength(3);
    expect(named[0].name).toMatch(/^s_[0-9a-f]{20}$/);
    expect(named[1].name).toBe(named[0].name);
    expect(named[2].name).not.toBe(named[0].name);
    expect(named.map((statement) => statement.values)).toEqual([[1], [2], []]);
  });

  it('logs and rethrows a failed statement, whatever was thrown', async () => {
    const db = new FakePgDatabase(() =>
      // Some drivers reject with plain strings rather than Errors.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      Promise.reject('server gone'),
    );
    const tx = new TransactionHost(db);

    await expect(tx.query('SELECT 1')).rejects.toBe('server gone');
    expect(db.queryErrors).toEqual([['server gone', 'SELECT 1']]);
  });
});

describe('The database of a TypeORM data source', () => {
  it('has no pool to give before the data source is initialized', () => {
    const database = typeormDatabase(
      new DataSource({ type: 'postgres', maxQueryExecutionTime: 250 }),
    );
    expect(database.slowMs).toBe(250);
    expect(() => database.pool()).toThrow('The data source holds no pg pool');
  });
});
