import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INTEGRATION_EVENT_TYPES, subjectOf, type IntegrationEventBody } from './integration-event';

const SCHEMAS = join(__dirname, '../../../schemas/events');

function validator(type: string) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  return ajv.compile(
    JSON.parse(readFileSync(join(SCHEMAS, `${type}.schema.json`), 'utf8')) as object,
  );
}

/** A body as the saga's statements write it (see raisedEvents in saga.repository.ts). */
function body(type: IntegrationEventBody['type'], data: Partial<IntegrationEventBody['data']>) {
  return {
    id: '0b6c3f8e-1a86-4a5e-9a4f-0d1f7f0e4b11',
    type,
    occurredAt: '2026-12-07T12:00:00.000Z',
    transactionId: 'TXN_01a25195-9094-7b0d-b7a2-ead7f3a503fb',
    data: {
      userId: 'user-123',
      itemId: 'item-sword',
      quantity: 2,
      total: 200,
      status: 'completed',
      pattern: 'orchestration',
      ...data,
    },
  };
}

describe('Integration events', () => {
  it('has one schema per type, and no schema without its type', () => {
    expect(readdirSync(SCHEMAS).sort()).toEqual(
      INTEGRATION_EVENT_TYPES.map((type) => `${type}.schema.json`).sort(),
    );
  });

  it.each([
    body('purchase.completed', {}),
    body('notification.requested', { notificationId: 'NOTIF_1', channels: ['email'] }),
    body('purchase.compensated', {
      status: 'compensated',
      error: { step: 'item_grant', code: 'INSUFFICIENT_STOCK', message: 'Not enough stock' },
    }),
    body('purchase.failed', {
      status: 'failed',
      total: null,
      error: { step: 'user_validation', code: 'USER_NOT_ACTIVE', message: 'Suspended' },
    }),
    body('purchase.compensation_failed', {
      status: 'failed',
      error: { step: 'user_validation', code: 'COMPENSATION_FAILED', message: 'gave up' },
    }),
  ])('accepts a $type body as the service writes it', (event) => {
    const validate = validator(event.type);
    expect(validate(event) ? [] : validate.errors).toEqual([]);
  });

  it('refuses a body that breaks its schema', () => {
    const validate = validator('purchase.failed');
    // No error, a status of another type, an unknown top-level field.
    expect(validate(body('purchase.failed', {}))).toBe(false);
    expect(
      validate({
        ...body('purchase.failed', { error: { step: null, code: 'X', message: null } }),
        extra: 1,
      }),
    ).toBe(false);
    expect(
      validator('purchase.compensation_failed')(
        body('purchase.compensation_failed', {
          status: 'failed',
          error: { step: null, code: 'STEP_FAILED', message: null },
        }),
      ),
    ).toBe(false);
  });

  it('publishes a type on saga.<type>', () => {
    expect(subjectOf('purchase.completed')).toBe('saga.purchase.completed');
  });
});
