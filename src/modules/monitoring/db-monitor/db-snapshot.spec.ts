import { cacheHitRatio, quoteIdentifier, statStatementsPlan } from './db-snapshot';

const ready = {
  serverVersionNum: 150004,
  installedSchema: 'public',
  shippedWithServer: true,
  preloaded: true,
};

describe('statStatementsPlan', () => {
  it('reads the view when the extension is installed and preloaded', () => {
    expect(statStatementsPlan(ready)).toEqual({ action: 'read', schema: 'public' });
    expect(statStatementsPlan({ ...ready, preloaded: null })).toEqual({
      action: 'read',
      schema: 'public',
    });
  });

  it('creates the extension only when the server ships and preloads it', () => {
    expect(statStatementsPlan({ ...ready, installedSchema: null })).toEqual({ action: 'create' });
    expect(statStatementsPlan({ ...ready, installedSchema: null, preloaded: null })).toMatchObject({
      action: 'none',
      reason: expect.stringContaining('cannot tell whether the server preloads it'),
    });
    expect(
      statStatementsPlan({ ...ready, installedSchema: null, shippedWithServer: false }),
    ).toMatchObject({ action: 'none', reason: expect.stringContaining('not available') });
  });

  it('says why when the library is not preloaded, installed or not', () => {
    for (const installedSchema of ['public', null]) {
      expect(statStatementsPlan({ ...ready, installedSchema, preloaded: false })).toEqual({
        action: 'none',
        reason: expect.stringContaining('shared_preload_libraries'),
      });
    }
  });

  it('needs PostgreSQL 13 for the mean_exec_time columns', () => {
    expect(statStatementsPlan({ ...ready, serverVersionNum: 120011 })).toEqual({
      action: 'none',
      reason: expect.stringContaining('PostgreSQL 13'),
    });
  });
});

describe('cacheHitRatio', () => {
  it('is hits over all block requests, null before any', () => {
    expect(cacheHitRatio(0, 0)).toBeNull();
    expect(cacheHitRatio(99, 1)).toBe(0.99);
    expect(cacheHitRatio(2, 1)).toBe(0.6667);
    expect(cacheHitRatio(0, 5)).toBe(0);
  });
});

describe('quoteIdentifier', () => {
  it('quotes and escapes', () => {
    expect(quoteIdentifier('public')).toBe('"public"');
    expect(quoteIdentifier('we"ird')).toBe('"we""ird"');
  });
});
