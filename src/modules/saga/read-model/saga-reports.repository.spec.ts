import { listingWhere } from './saga-reports.repository';

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
