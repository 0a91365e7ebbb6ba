import type { DataSource } from 'typeorm';
import { TransactionHost } from './transaction-host';

function fakeDataSource(answer: (sql: string) => Promise<{ rows: unknown[] }>) {
  const statements: { name: string; text: string; values: unknown[] }[] = [];
  const logQueryError = jest.fn();
  const transaction = jest.fn((work: (manager: object) => Promise<unknown>) => work({}));
  const dataSource = {
    options: {},
    logger: { logQueryError, logQuerySlow: jest.fn() },
    transaction,
    driver: {
      master: {
        query: (statement: { name: string; text: string; values: unknown[] }) => {
          statements.push(statement);
          return answer(statement.text);
        },
      },
    },
  };
  return {
    dataSource: dataSource as unknown as DataSource,
    statements,
    logQueryError,
    transaction,
  };
}

/** Some drivers reject with plain strings rather than Errors. */
function plainReason(reason: string): Error {
  return reason as unknown as Error;
}

describe('TransactionHost', () => {
  it('runs nested work inside the transaction already open', async () => {
    const { dataSource, transaction } = fakeDataSource(() => Promise.resolve({ rows: [] }));
    const tx = new TransactionHost(dataSource);

    const result = await tx.run(async () => {
      expect(tx.inTransaction).toBe(true);
      return tx.run(() => Promise.resolve('inner'));
    });

    expect(result).toBe('inner');
    expect(transaction).toHaveBeenCalledTimes(1);
    expect(tx.inTransaction).toBe(false);
  });

  it('names each distinct statement once and passes its values', async () => {
    const { dataSource, statements } = fakeDataSource(() => Promise.resolve({ rows: [{ n: 1 }] }));
    const tx = new TransactionHost(dataSource);

    expect(await tx.one('SELECT $1::int AS n', [1])).toEqual({ n: 1 });
    await tx.query('SELECT $1::int AS n', [2]);
    await tx.query('SELECT 2');

    expect(statements[0].name).toMatch(/^s_[0-9a-f]{20}$/);
    expect(statements[1].name).toBe(statements[0].name);
    expect(statements[2].name).not.toBe(statements[0].name);
    expect(statements.map((statement) => statement.values)).toEqual([[1], [2], []]);
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
