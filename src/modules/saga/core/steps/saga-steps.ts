import type { Provider } from '@nestjs/common';
import { PURCHASE_SAGA_V1 } from '../definition/purchase-saga.definition';
import type { SagaDefinition } from '../definition/saga-definition';
import type { StepName } from '../saga';
import { ItemGrantStep } from './item-grant.step';
import { LogRecordStep } from './log-record.step';
import { NotificationStep } from './notification.step';
import type { SagaStep } from './saga-step';
import { UserValidationStep } from './user-validation.step';

/** The purchase saga's steps, in order, and the rules that follow from their order. */
export class SagaSteps {
  readonly pivotIndex: number;

  constructor(readonly ordered: readonly SagaStep[]) {
    this.pivotIndex = this.ordered.findIndex((step) => step.pivot === true);
  }

  get(name: StepName): SagaStep {
    const step = this.ordered.find((candidate) => candidate.name === name);
    if (step === undefined) throw new Error(`Unknown step ${name}`);
    return step;
  }

  indexOf(name: StepName): number {
    return this.ordered.findIndex((step) => step.name === name);
  }

  /** The step after `name`, or undefined after the last. */
  next(name: StepName | null): SagaStep | undefined {
    return name === null ? this.ordered[0] : this.ordered[this.indexOf(name) + 1];
  }

  /** The step comes after the pivot: it is retried, never undone, and the purchase stands. */
  isPastPivot(name: StepName): boolean {
    return this.indexOf(name) > this.pivotIndex;
  }

  /** The purchase stands: the pivot (or a step after it) has committed. */
  pivotCommitted(completed: readonly StepName[]): boolean {
    return completed.some((name) => this.indexOf(name) >= this.pivotIndex);
  }

  isLast(name: StepName): boolean {
    return this.indexOf(name) === this.ordered.length - 1;
  }
}

/** The steps as `definition` declares them: same names in the same order, same pivot and undos. */
export function stepsOf(definition: SagaDefinition, steps: readonly SagaStep[]): SagaSteps {
  const shape = (step: { name: string; pivot?: boolean; compensable: boolean }) =>
    `${step.name}${step.pivot === true ? ' (pivot)' : ''}${step.compensable ? '' : ' (no undo)'}`;
  const declared = definition.steps.map(shape).join(', ');
  const implemented = steps
    .map((step) =>
      shape({ name: step.name, pivot: step.pivot, compensable: step.compensate !== undefined }),
    )
    .join(', ');
  if (declared !== implemented) {
    throw new Error(
      `Saga ${definition.name} v${definition.version} declares ${declared}; the code has ${implemented}`,
    );
  }
  return new SagaSteps(steps);
}

/** The purchase saga: its four steps in the order its definition declares. */
export const SAGA_STEPS_PROVIDER: Provider = {
  provide: SagaSteps,
  useFactory: (...steps: SagaStep[]) => stepsOf(PURCHASE_SAGA_V1, steps),
  inject: [UserValidationStep, ItemGrantStep, LogRecordStep, NotificationStep],
};
