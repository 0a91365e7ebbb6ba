import { FakePgDatabase } from '../../../database/pg-pool.fixture';
import { ReportingTransactionHost } from '../../../database/work-pools';
import { listingWhere, SagaReportsRepository } from './saga-reports.repository';

describe('listingWhere', () => {
  it('is TRUE without filters', () => {
    expect(listingWhere({})).toEqual({ sql: 'TRUE', params: [] });
  });

  it('binds every filter as a parameter, in order, never in the SQL text', () => {
    const from = new Date('2025-01-01T00:00:00Z');
    const to = new Date('2025-02-01T00:00:00Z');
    const where = listingWhere({
      status: 'failed',
      pattern: 'choreography',
      userId: "x' OR '1'='1",
      createdFrom: from,
      createdTo: to,
    });
    expect(where.sql).toBe(
      'status = $1 AND pattern = $2 AND user_id = $3 AND created_at >= $4 AND created_at <= $5',
    );
    expect(where.params).toEqual(['failed', 'choreography', "x' OR '1'='1", from, to]);
  });

  it('numbers the parameters of the filters given', () => {
    expect(listingWhere({ userId: 'user-1', createdTo: new Date(0) })).toEqual({
      sql: 'user_id = $1 AND created_at <= $2',
      params: ['user-1', new Date(0)],
    });
  });
});

describe('SagaReportsRepository', () => {
  /** A repository on a database that answers `rows` to every statement, keeping what it sent. */
  function repository(rows: object[] = []) {
    const db = new FakePgDatabase((sql) => Promise.resolve({ command: sql.split(' ')[0], rows }));
    return { db, reports: new SagaReportsRepository(new ReportingTransactionHost(db)) };
  }
  const sent = (db: FakePgDatabase) =>
    db.statements.map((s) => (typeof s === 'string' ? { text: s, values: [] } : s));

  it('reads a page of most filters in one ordered scan', async () => {
    const { db, reports } = repository();
    await reports.page({ userId: 'user-1' }, 21, 40);
    const [page] = sent(db);
    expect(page.text).not.toContain('UNION ALL');
    expect(page.text).toMatch(
      /ORDER BY created_at DESC, transaction_id DESC LIMIT \$2 OFFSET \$3$/,
    );
    expect(page.values).toEqual(['user-1', 21, 40]);
  });

  it("reads an item's settled and open sagas through their own indexes, each far enough for the page", async () => {
    const { db, reports } = repository();
    await reports.page({ itemId: 'item-1' }, 21, 40, {
      createdAt: '2030-01-01T00:00:00.000000Z',
      transactionId: 'TXN_9',
    });
    const [page] = sent(db);
    const branches = page.text.split('UNION ALL');
    expect(branches).toHaveLength(2);
    // In the words of idx_saga_states_item_listing's predicate.
    expect(branches[0]).toContain(
      "status IN ('completed', 'compensated', 'failed') AND item_id = $1 AND (created_at, transaction_id) < ($2::timestamptz, $3::varchar)",
    );
    expect(branches[1]).toContain("status IN ('pending', 'in_progress', 'compensating')");
    for (const branch of branches) expect(branch).toContain('LIMIT $6)');
    expect(page.values).toEqual(['item-1', '2030-01-01T00:00:00.000000Z', 'TXN_9', 21, 40, 61]);
  });

  it('counts no further than one past the cap', async () => {
    const { db, reports } = repository([{ n: 10_001 }]);
    expect(await reports.countUpTo({ itemId: 'item-1', status: 'failed' }, 10_000)).toBe(10_001);
    const [count] = sent(db);
    expect(count.text).toMatch(/^SELECT count\(\*\)::int AS n FROM \(SELECT 1 FROM saga_states/);
    expect(count.text).toContain('UNION ALL');
    expect(count.text).toMatch(/ LIMIT \$3\) capped$/);
    expect(count.values).toEqual(['failed', 'item-1', 10_001]);
  });

  it("takes an estimate from the planner's plan, parameters bound", async () => {
    const { db, reports } = repository([{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': 123456.4 } }] }]);
    expect(await reports.estimate({ pattern: 'choreography' })).toBe(123456);
    const [explain] = sent(db);
    expect(explain.text).toBe('EXPLAIN (FORMAT JSON) SELECT 1 FROM saga_states WHERE pattern = $1');
    expect(explain.values).toEqual(['choreography']);
  });
});
