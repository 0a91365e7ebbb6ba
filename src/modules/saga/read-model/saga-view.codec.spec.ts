import { decodeSagaView, encodeSagaView, sealSagaView, unsealSagaView } from './saga-view.codec';
import type { SagaView } from './saga.mapper';

const view: SagaView = {
  transactionId: 'TXN_1',
  status: 'compensated',
  pattern: 'orchestration',
  definition: { name: 'purchase', version: 1 },
  currentStep: 'item_grant',
  purchaseData: { userId: 'user-123', itemId: 'item-sword', quantity: 1, price: 100 },
  steps: [
    {
      step: 'user_validation',
      status: 'success',
      data: { debited: '100.00' },
      executedAt: new Date('2030-01-01T00:00:00.010Z'),
      duration: 3,
    },
  ],
  compensations: [
    {
      step: 'user_validation',
      status: 'success',
      action: 'compensate',
      data: null,
      executedAt: new Date('2030-01-01T00:00:00.020Z'),
      duration: 2,
    },
  ],
  startedAt: new Date('2030-01-01T00:00:00.000Z'),
  failedAt: new Date('2030-01-01T00:00:00.030Z'),
  error: { step: 'item_grant', code: 'INSUFFICIENT_STOCK', message: 'Out of stock' },
};

describe('saga view codec', () => {
  it('round-trips a view with its dates', () => {
    expect(decodeSagaView(encodeSagaView(view), 'TXN_1')).toEqual(view);
  });

  it.each([
    ['not JSON', '{"transactionId":'],
    ['another saga', encodeSagaView({ ...view, transactionId: 'TXN_2' })],
    ['an unknown status', encodeSagaView({ ...view, status: 'bogus' as SagaView['status'] })],
    ['a bad date', JSON.stringify({ ...view, startedAt: 'yesterday' })],
    ['steps that are not steps', JSON.stringify({ ...view, steps: [1, 2] })],
    ['a scalar', '42'],
    ['a date that is not text', JSON.stringify({ ...view, startedAt: 0 })],
    ['steps that are not a list', JSON.stringify({ ...view, steps: {} })],
    ['a step without its time', JSON.stringify({ ...view, steps: [{ step: 'a', status: 'b' }] })],
    ['no purchase data', JSON.stringify({ ...view, purchaseData: null })],
    ['a bad end date', JSON.stringify({ ...view, failedAt: 'never' })],
  ])('refuses %s', (_name, text) => {
    expect(decodeSagaView(text, 'TXN_1')).toBeUndefined();
  });
});

describe('sealed views', () => {
  const json = encodeSagaView(view);
  const sealed = sealSagaView(json, 'TXN_1');

  it('gives back the JSON sealed for the same saga', () => {
    expect(unsealSagaView(sealed, 'TXN_1')).toBe(json);
  });

  it.each([
    ["another saga's view", sealSagaView(json, 'TXN_2')],
    ['a changed view', sealed.replace('"compensated"', '"completed"')],
    ['a truncated view', sealed.slice(0, -1)],
    ['a changed digest', `${sealed.slice(0, 4)}${sealed[5]}${sealed[4]}${sealed.slice(6)}`],
    ['a view without a seal', json],
    ['a seal without a view', sealed.slice(0, sealed.length - json.length)],
    ['an empty entry', ''],
  ])('refuses %s', (_name, text) => {
    expect(unsealSagaView(text, 'TXN_1')).toBeUndefined();
  });
});
