import { moveIncompatibility, type SagaProgress } from './definition-move';
import { PURCHASE_SAGA_V1 } from './purchase-saga.definition';
import { defineSaga } from './saga-definition';

const [validation, grant, log, notification] = PURCHASE_SAGA_V1.steps;

/** A later version with a step between the validation and the grant. */
const WITH_CAP = defineSaga({
  name: 'purchase',
  version: 2,
  steps: [validation, { ...grant, name: 'spending_cap' }, grant, log, notification],
});

const progress = (fields: Partial<SagaProgress>): SagaProgress => ({
  status: 'in_progress',
  currentStep: null,
  completed: [],
  compensated: [],
  ...fields,
});

describe('moveIncompatibility', () => {
  it('lets a saga go on under a definition whose first steps are the ones it has been through', () => {
    expect(moveIncompatibility(progress({ status: 'pending' }), PURCHASE_SAGA_V1)).toBeUndefined();
    expect(moveIncompatibility(progress({ status: 'pending' }), WITH_CAP)).toBeUndefined();
    const validated = progress({ currentStep: 'user_validation', completed: ['user_validation'] });
    expect(moveIncompatibility(validated, PURCHASE_SAGA_V1)).toBeUndefined();
    // The later version differs only after the saga's current step.
    expect(moveIncompatibility(validated, WITH_CAP)).toBeUndefined();
    const logged = progress({
      currentStep: 'log_record',
      completed: ['user_validation', 'item_grant', 'log_record'],
    });
    expect(moveIncompatibility(logged, PURCHASE_SAGA_V1)).toBeUndefined();
  });

  it('refuses a saga whose steps so far differ from the target in name or order', () => {
    const granted = progress({
      currentStep: 'item_grant',
      completed: ['user_validation', 'item_grant'],
    });
    expect(moveIncompatibility(granted, WITH_CAP)).toBe(
      'it has been through user_validation, item_grant; step 2 of purchase v2 is spending_cap, not item_grant',
    );
    const capped = progress({
      currentStep: 'spending_cap',
      completed: ['user_validation', 'spending_cap'],
    });
    expect(moveIncompatibility(capped, PURCHASE_SAGA_V1)).toContain(
      'step 2 of purchase v1 is item_grant, not spending_cap',
    );
    // A version with a fifth step after the notification, which the saga has run.
    const done = progress({
      currentStep: 'loyalty_points',
      completed: [...PURCHASE_SAGA_V1.steps.map((step) => step.name), 'loyalty_points'],
    });
    expect(moveIncompatibility(done, PURCHASE_SAGA_V1)).toContain(
      'step 5 of purchase v1 is absent, not loyalty_points',
    );
  });

  it('counts the step a saga was refused at as one it has been through', () => {
    // Refused at its second step, nothing undone yet.
    const refused = progress({
      status: 'compensating',
      currentStep: 'spending_cap',
      completed: ['user_validation'],
    });
    expect(moveIncompatibility(refused, WITH_CAP)).toBeUndefined();
    expect(moveIncompatibility(refused, PURCHASE_SAGA_V1)).toContain('not spending_cap');
  });

  it('refuses a saga being undone when a step it still has to undo has no compensation in the target', () => {
    const noUndo = defineSaga({
      name: 'purchase',
      version: 4,
      steps: [
        { ...validation, pivot: true },
        { ...grant, compensable: false, retry: notification.retry, timeout: 'none' },
        { ...log, pivot: false, compensable: false, retry: notification.retry, timeout: 'none' },
        notification,
      ],
    });
    const undoing = progress({
      status: 'compensating',
      currentStep: 'log_record',
      completed: ['user_validation', 'item_grant'],
      compensated: [],
    });
    expect(moveIncompatibility(undoing, noUndo)).toBe(
      'it is being undone, and item_grant has no compensation in purchase v4',
    );
    // The same saga going forward is fine: nothing is to be undone.
    expect(moveIncompatibility({ ...undoing, status: 'in_progress' }, noUndo)).toBeUndefined();
  });
});
