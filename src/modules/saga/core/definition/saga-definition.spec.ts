import { PURCHASE_SAGA_V1 } from './purchase-saga.definition';
import {
  canonicalDefinition,
  defineSaga,
  definitionHash,
  type SagaDefinition,
} from './saga-definition';
import {
  CURRENT_PURCHASE_DEFINITION,
  isRegistered,
  REGISTERED_DEFINITIONS,
} from './saga-definitions';

/**
 * The hashes of released definitions. A saga row records its definition's hash; changing a
 * released definition's steps would silently change what its open sagas run. Declare a new
 * version instead, and pin its hash here once it is released.
 */
const RELEASED_HASHES: Record<string, string> = {
  'purchase@1': '52bdf08689f761de7f6552b4c7cffcff83c6c75f8b9c1d283f8cc2aa415ab28b',
};

describe('saga definitions', () => {
  it('keeps every released definition exactly as it was released', () => {
    for (const { name, version, hash } of REGISTERED_DEFINITIONS) {
      expect({ [`${name}@${version}`]: hash }).toEqual({
        [`${name}@${version}`]: RELEASED_HASHES[`${name}@${version}`],
      });
    }
  });

  it('declares the purchase saga v1 as the contract has it', () => {
    expect(
      PURCHASE_SAGA_V1.steps.map((step) => [step.name, step.module, step.pivot, step.compensable]),
    ).toEqual([
      ['user_validation', 'users', false, true],
      ['item_grant', 'items', false, true],
      ['log_record', 'logs', true, true],
      ['notification', 'notifications', false, false],
    ]);
    expect(CURRENT_PURCHASE_DEFINITION).toMatchObject({ name: 'purchase', version: 1 });
    expect(isRegistered({ name: 'purchase', version: 1 })).toBe(true);
    expect(isRegistered({ name: 'purchase', version: 99 })).toBe(false);
  });

  it('hashes the step shapes only, not the tunable policy', () => {
    const retuned: SagaDefinition = {
      ...PURCHASE_SAGA_V1,
      steps: PURCHASE_SAGA_V1.steps.map((step) => ({ ...step, module: 'elsewhere' })),
    };
    expect(definitionHash(retuned)).toBe(definitionHash(PURCHASE_SAGA_V1));
    const reordered: SagaDefinition = {
      ...PURCHASE_SAGA_V1,
      steps: [
        PURCHASE_SAGA_V1.steps[1],
        PURCHASE_SAGA_V1.steps[0],
        ...PURCHASE_SAGA_V1.steps.slice(2),
      ],
    };
    expect(definitionHash(reordered)).not.toBe(definitionHash(PURCHASE_SAGA_V1));
    expect(canonicalDefinition(PURCHASE_SAGA_V1)).toContain('"name":"purchase","version":1');
  });

  it('refuses a definition the engines could not drive', () => {
    const [first, second, pivot, last] = PURCHASE_SAGA_V1.steps;
    const base = { name: 'broken', version: 1 };
    expect(() => defineSaga({ ...base, steps: [first, second, last] })).toThrow('pivot');
    expect(() =>
      defineSaga({ ...base, steps: [first, pivot, { ...last, compensable: true }] }),
    ).toThrow('must not be compensable');
    expect(() => defineSaga({ ...base, steps: [first, first, pivot] })).toThrow('uniquely named');
    expect(() => defineSaga({ ...base, version: 0, steps: [pivot] })).toThrow('positive integer');
  });
});
