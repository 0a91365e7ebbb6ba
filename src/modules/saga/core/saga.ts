import type { SagaPattern } from '../../../config/configuration';
import type { SagaStatus } from './saga-state.entity';

export const STEP_NAMES = ['user_validation', 'item_grant', 'log_record', 'notification'] as const;
export type StepName = (typeof STEP_NAMES)[number];

export function isStepName(value: string): value is StepName {
  return (STEP_NAMES as readonly string[]).includes(value);
}

/** What every step needs to know about its purchase. */
export interface SagaContext {
  transactionId: string;
  pattern: SagaPattern;
  userId: string;
  itemId: string;
  quantity: number;
  /** Total charged, exact numeric string ("100.00"). */
  total: string;
}

export type StepData = Record<string, unknown>;

export interface SagaError {
  step: string | null;
  code: string;
  message: string;
}

/** A saga as its engine holds it while driving it. */
export interface SagaRecord {
  context: SagaContext;
  status: SagaStatus;
  version: number;
  startedAt: Date;
  /** Forward steps committed, in order. */
  completed: StepName[];
  /** Steps whose compensation committed. */
  compensated: StepName[];
  error: SagaError | null;
}
