import { CURRENT_PURCHASE_DEFINITION } from '../src/modules/saga/core/definition/saga-definitions';
import { startTestApp, type TestApp } from './support/test-app';

const SWORD = { userId: 'user-123', itemId: 'item-sword', quantity: 1 };

describe('every saga records the definition it runs', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ NOTIFICATION_FAILURE_RATE: '0' });
  });

  afterAll(async () => {
    await t.close();
  });

  it('in both patterns, through the idempotency path too, and when refused before any effect', async () => {
    const ids: string[] = [];
    for (const pattern of ['orchestration', 'choreography']) {
      const done = await t.http
        .post('/purchase')
        .send({ ...SWORD, pattern })
        .expect(200);
      ids.push(done.body.transactionId as string);
    }
    const keyed = await t.http
      .post('/purchase')
      .set('Idempotency-Key', 'versioned-1')
      .send(SWORD)
      .expect(200);
    ids.push(keyed.body.transactionId as string);
    await t.http.post('/purchase').set('Idempotency-Key', 'versioned-1').send(SWORD).expect(200);
    const refused = await t.http
      .post('/purchase')
      .send({ userId: 'user-suspended', itemId: 'item-sword', quantity: 1 })
      .expect(409);
    ids.push(refused.body.transactionId as string);

    const { rows } = await t.db.query<{
      definition_name: string;
      definition_version: number;
      definition_hash: string;
    }>(
      `SELECT definition_name, definition_version, definition_hash FROM saga_states
       WHERE transaction_id = ANY($1::varchar[])`,
      [ids],
    );
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row).toEqual({
        definition_name: 'purchase',
        definition_version: 1,
        definition_hash: CURRENT_PURCHASE_DEFINITION.hash,
      });
    }
  });
});
