import type { SagaDefinition } from './saga-definition';

/** What a saga has been through, as a move to another definition needs it. */
export interface SagaProgress {
  status: string;
  /** The step of its last committed change (forward, refusal or undo); null before any. */
  currentStep: string | null;
  /** Forward steps committed, in order. */
  completed: readonly string[];
  /** Steps whose compensation committed. */
  compensated: readonly string[];
}

/**
 * Why a saga cannot go on under `target`, or undefined when it can. The steps it has been
 * through, up to its current step, must be the target's first steps in the same order (the
 * target then drives it from where it stands), and a saga being undone must find every step it
 * still has to undo compensable in the target.
 */
export function moveIncompatibility(
  saga: SagaProgress,
  target: SagaDefinition,
): string | undefined {
  const path = [...saga.completed];
  if (saga.currentStep !== null && !path.includes(saga.currentStep)) path.push(saga.currentStep);
  const targetNames = target.steps.map((step) => step.name);
  const differs = path.findIndex((name, index) => targetNames[index] !== name);
  if (differs !== -1) {
    const theirs = targetNames[differs];
    return (
      `it has been through ${path.join(', ')}; step ${differs + 1} of ${target.name} ` +
      `v${target.version} is ${theirs === undefined ? 'absent' : theirs}, not ${path[differs]}`
    );
  }
  if (saga.status === 'compensating') {
    const left = saga.completed.filter((name) => !saga.compensated.includes(name));
    const stuck = left.find(
      (name) => target.steps.find((step) => step.name === name)?.compensable !== true,
    );
    if (stuck !== undefined) {
      return `it is being undone, and ${stuck} has no compensation in ${target.name} v${target.version}`;
    }
  }
  return undefined;
}
