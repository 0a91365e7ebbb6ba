import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { decodeSagaCursor, encodeSagaCursor } from '../../saga/read-model/saga-reports.service';
import { clampPageSize, isTimestamp, ListSagasQuery, toInteger } from './list-sagas.query';

function parse(query: Record<string, unknown>): { dto: ListSagasQuery; errors: string[] } {
  const dto = plainToInstance(ListSagasQuery, query);
  const errors = validateSync(dto, { whitelist: true, forbidNonWhitelisted: true }).flatMap(
    (error) => Object.values(error.constraints ?? {}),
  );
  return { dto, errors };
}

describe('ListSagasQuery', () => {
  it('defaults to page 1 of 20', () => {
    const { dto, errors } = parse({});
    expect(errors).toEqual([]);
    expect(dto).toMatchObject({ page: 1, limit: 20 });
  });

  it('reads numbers and filters from the query string', () => {
    const { dto, errors } = parse({
      page: '3',
      limit: '50',
      status: 'compensated',
      pattern: 'choreography',
      userId: 'user-123',
      dateFrom: '2025-01-01',
      dateTo: '2025-01-31T23:59:59.999+02:00',
    });
    expect(errors).toEqual([]);
    expect(dto).toMatchObject({
      page: 3,
      limit: 50,
      status: 'compensated',
      pattern: 'choreography',
      userId: 'user-123',
    });
  });

  it('lowers a limit above 100 to 100', () => {
    expect(parse({ limit: '101' }).dto.limit).toBe(100);
    expect(parse({ limit: '100000' }).dto.limit).toBe(100);
    expect(parse({ limit: '100' }).dto.limit).toBe(100);
  });

  it.each([
    [{ page: 'abc' }, 'page must be an integer number'],
    [{ page: '0' }, 'page must not be less than 1'],
    [{ page: '1e3' }, 'page must be an integer number'],
    [{ limit: '0' }, 'limit must not be less than 1'],
    [{ limit: '2.5' }, 'limit must be an integer number'],
    [{ status: 'running' }, 'status must be one of the following values'],
    [{ pattern: 'both' }, 'pattern must be one of the following values'],
    [{ userId: 'x'.repeat(51) }, 'userId must be shorter than or equal to 50 characters'],
    [{ dateFrom: '01/02/2025' }, 'dateFrom must be a date'],
    [{ dateTo: '2025-02-29' }, 'dateTo must be a date'],
    [
      { dateFrom: '2025-01-02', dateTo: '2025-01-01T23:59:59Z' },
      'dateFrom must not be after dateTo',
    ],
    [{ order: 'asc' }, 'property order should not exist'],
  ])('refuses %j', (query, message) => {
    expect(parse(query).errors).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
  });

  it('accepts equal bounds', () => {
    expect(parse({ dateFrom: '2025-01-01', dateTo: '2025-01-01T00:00:00Z' }).errors).toEqual([]);
  });
});

describe('query helpers', () => {
  it('turns only plain digit strings into integers', () => {
    expect(toInteger('42')).toBe(42);
    expect(toInteger(' 42')).toBe(' 42');
    expect(toInteger('0x10')).toBe('0x10');
    expect(toInteger('-1')).toBe('-1');
    expect(toInteger(['1', '2'])).toEqual(['1', '2']);
    expect(clampPageSize('250')).toBe(100);
    expect(clampPageSize('7')).toBe(7);
    expect(clampPageSize('x')).toBe('x');
  });

  it('accepts dates and date-times with an offset, nothing ambiguous', () => {
    expect(isTimestamp('2025-03-01')).toBe(true);
    expect(isTimestamp('2025-03-01T10:20:30Z')).toBe(true);
    expect(isTimestamp('2025-03-01T10:20:30.123456-05:00')).toBe(true);
    expect(isTimestamp('2025-03-01T10:20:30')).toBe(false);
    expect(isTimestamp('2025-02-30')).toBe(false);
    expect(isTimestamp('2025-W01')).toBe(false);
    expect(isTimestamp('20250301')).toBe(false);
    expect(isTimestamp(20250301)).toBe(false);
  });
});

describe('ListSagasQuery, console filters', () => {
  it('takes the attention states, item, lookups and a cursor the service gave out', () => {
    const cursor = encodeSagaCursor({
      createdAt: '2026-01-02T03:04:05.123456Z',
      transactionId: 'TXN_1',
    });
    const { dto, errors } = parse({
      status: 'compensation_failed',
      itemId: 'item-sword',
      transactionId: 'TXN_1',
      idempotencyKey: 'order-1',
      cursor,
    });
    expect(errors).toEqual([]);
    expect(dto).toMatchObject({ status: 'compensation_failed', itemId: 'item-sword', cursor });
    expect(decodeSagaCursor(cursor)).toEqual({
      createdAt: '2026-01-02T03:04:05.123456Z',
      transactionId: 'TXN_1',
    });
    expect(parse({ status: 'stuck' }).errors).toEqual([]);
  });

  it.each([
    'x',
    'not base64url!',
    Buffer.from('not json').toString('base64url'),
    Buffer.from('["2026-01-02T03:04:05.123456Z"]').toString('base64url'),
    Buffer.from('["2026-01-02T03:04:05Z","TXN_1"]').toString('base64url'),
    Buffer.from('["2026-13-45T03:04:05.123456Z","TXN_1"]').toString('base64url'),
    Buffer.from('["2026-01-02T03:04:05.123456Z","bad id"]').toString('base64url'),
    Buffer.from('[1,2]').toString('base64url'),
  ])('refuses the cursor %s', (cursor) => {
    expect(parse({ cursor }).errors).toEqual(['cursor must be a nextCursor of an earlier page']);
  });
});
