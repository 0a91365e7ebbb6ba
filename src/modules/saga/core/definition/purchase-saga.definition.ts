import { defineSaga, type StepRetryPolicy } from './saga-definition';

const RETRIED_THEN_UNDONE: StepRetryPolicy = {
  maxAttempts: 'STEP_MAX_ATTEMPTS',
  backoff: 'exponential',
  baseMs: 'STEP_RETRY_BASE_MS',
  maxMs: 'STEP_RETRY_MAX_MS',
  whenExhausted: 'compensate',
};

const RETRIED_THEN_GIVEN_UP: StepRetryPolicy = { ...RETRIED_THEN_UNDONE, whenExhausted: 'give_up' };

/**
 * The purchase saga, version 1: the contract's four steps. Released: its hash is pinned by a
 * test; a change of steps is a new version, declared beside this one, which stays until none of
 * its sagas is open.
 */
export const PURCHASE_SAGA_V1 = defineSaga({
  name: 'purchase',
  version: 1,
  steps: [
    {
      name: 'user_validation',
      module: 'users',
      pivot: false,
      compensable: true,
      retry: RETRIED_THEN_UNDONE,
      timeout: 'SAGA_TIMEOUT_MS',
    },
    {
      name: 'item_grant',
      module: 'items',
      pivot: false,
      compensable: true,
      retry: RETRIED_THEN_UNDONE,
      timeout: 'SAGA_TIMEOUT_MS',
    },
    {
      name: 'log_record',
      module: 'logs',
      pivot: true,
      compensable: true,
      retry: RETRIED_THEN_UNDONE,
      timeout: 'SAGA_TIMEOUT_MS',
    },
    {
      name: 'notification',
      module: 'notifications',
      pivot: false,
      compensable: false,
      retry: RETRIED_THEN_GIVEN_UP,
      timeout: 'none',
    },
  ],
});
