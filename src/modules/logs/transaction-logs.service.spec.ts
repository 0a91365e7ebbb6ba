import { answerOk, FakePgDatabase } from '../../database/pg-pool.fixture';
import { type PgResult, TransactionHost } from '../../database/transaction-host';
import { ReportingTransactionHost } from '../../database/work-pools';
import { LogRecordStep } from '../saga/core/steps/log-record.step';
import { TransactionLogRow, TransactionLogsRepository } from './transaction-logs.repository';
import { TransactionLogsService } from './transaction-logs.service';

function row(overrides: Partial<TransactionLogRow> = {}): TransactionLogRow {
  return {
    log_id: 'LOG_1',
    transaction_id: 'TXN_1',
    user_id: 'user-1',
    item_id: 'item-1',
    quantity: 2,
    price: '20.00',
    status: 'completed',
    log_data: { event: 'PURCHASE_COMPLETED' },
    created_at: new Date('2030-01-01T00:00:00Z'),
    updated_at: new Date('2030-01-01T00:00:01Z'),
    ...overrides,
  };
}

/** A transaction_logs table of one transaction's rows, answering the repository's statements. */
class FakeTable {
  rows: TransactionLogRow[] = [];
  /** Set to make the row vanish between the conflicting insert and the read after it. */
  vanish = false;
  readonly database = new FakePgDatabase((sql, values) => this.answer(sql, values));

  private answer(sql: string, params: readonly unknown[]): Promise<PgResult> {
    const rows = (found: unknown[]) => Promise.resolve({ command: 'SELECT', rows: found });
    const [first] = params;
    if (/^(BEGIN|COMMIT|ROLLBACK)$/.test(sql)) return answerOk(sql);
    if (sql.includes('INSERT INTO transaction_logs')) {
      const logs = JSON.parse(String(first)) as { log_id: string; transaction_id: string }[];
      return rows(
        logs.map((log) => {
          const existing = this.rows.find((r) => r.transaction_id === log.transaction_id);
          if (existing !== undefined) {
            if (this.vanish) this.rows = [];
            return this.vanish ? { ...existing, log_id: null, created_at: null } : existing;
          }
          const inserted = row({ log_id: log.log_id, transaction_id: log.transaction_id });
          this.rows.push(inserted);
          return inserted;
        }),
      );
    }
    if (sql.startsWith('UPDATE')) {
      const found = this.rows.filter((existing) => existing.transaction_id === first);
      for (const existing of found) existing.status = 'compensated';
      return rows(found);
    }
    if (sql.includes('WHERE transaction_id')) {
      return rows(this.rows.filter((existing) => existing.transaction_id === first));
    }
    return rows(this.rows.filter((existing) => existing.user_id === first));
  }
}

function setup() {
  const table = new FakeTable();
  const logs = new TransactionLogsService(
    new TransactionLogsRepository(
      new TransactionHost(table.database),
      new ReportingTransactionHost(table.database),
    ),
  );
  return { table, logs };
}

const purchase = {
  transactionId: 'TXN_1',
  userId: 'user-1',
  itemId: 'item-1',
  quantity: 2,
  price: '20.00',
  metadata: { event: 'PURCHASE_COMPLETED' },
};

describe('TransactionLogsService', () => {
  it('records one log per purchase, returning the first one on a repeat', async () => {
    const { table, logs } = setup();

    const [first] = await logs.recordPurchases([purchase]);
    const [again, other] = await logs.recordPurchases([
      purchase,
      { ...purchase, transactionId: 'TXN_2' },
    ]);

    expect(first).toEqual({
      kind: 'value',
      value: expect.objectContaining({ logId: expect.stringMatching(/^LOG_/) }),
    });
    expect(again).toEqual(first);
    expect(other).toEqual({
      kind: 'value',
      value: expect.objectContaining({ logId: expect.any(String) }),
    });
    expect(table.rows).toHaveLength(2);
  });

  it('fails when the conflicting log cannot be read back', async () => {
    const { table, logs } = setup();
    await logs.recordPurchases([purchase]);
    table.vanish = true;

    const [outcome] = await logs.recordPurchases([purchase]);
    expect(outcome).toEqual({ kind: 'error', error: new Error('Log of TXN_1 vanished') });
  });

  it('marks a purchase compensated, and says when there was no log to mark', async () => {
    const { logs } = setup();
    const [recorded] = await logs.recordPurchases([purchase]);
    const logId = recorded.kind === 'value' ? recorded.value.logId : undefined;

    expect(await logs.compensatePurchase('TXN_1')).toEqual({ logId });
    expect(await logs.compensatePurchase('TXN_unknown')).toEqual({ logId: null });
  });

  it('lists a user logs with the step each status stands for', async () => {
    const { table, logs } = setup();
    table.rows = [row(), row({ log_id: 'LOG_2', transaction_id: 'TXN_2', status: 'compensated' })];

    const views = await logs.listByUser('user-1');

    expect(views.map((view) => [view.logId, view.step, view.price])).toEqual([
      ['LOG_1', 'purchase_completed', 20],
      ['LOG_2', 'purchase_compensated', 20],
    ]);
  });

  it('undoes the log step idempotently', async () => {
    const { logs } = setup();
    const step = new LogRecordStep(logs);
    const context = {
      transactionId: 'TXN_1',
      pattern: 'orchestration' as const,
      userId: 'user-1',
      itemId: 'item-1',
      quantity: 2,
      total: '20.00',
    };
    const [recorded] = await step.execute([context]);
    const logId = recorded.kind === 'value' ? recorded.value.logId : undefined;

    expect(await step.compensate(context)).toEqual({ logId, status: 'compensated' });
    expect(await step.compensate(context)).toEqual({ logId, status: 'compensated' });
  });
});
