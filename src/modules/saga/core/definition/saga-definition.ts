import { createHash } from 'node:crypto';

/**
 * How a failing attempt of a step is retried. Every step today takes its numbers from the
 * configuration (STEP_MAX_ATTEMPTS, STEP_RETRY_BASE_MS, STEP_RETRY_MAX_MS), so the policy names
 * them rather than copying their values: tuning them is no change to the definition.
 */
export interface StepRetryPolicy {
  readonly maxAttempts: 'STEP_MAX_ATTEMPTS';
  readonly backoff: 'exponential';
  readonly baseMs: 'STEP_RETRY_BASE_MS';
  readonly maxMs: 'STEP_RETRY_MAX_MS';
  /** Once the attempts are spent: undo what committed (before the pivot) or give up and complete. */
  readonly whenExhausted: 'compensate' | 'give_up';
}

/** Before the pivot a saga older than SAGA_TIMEOUT_MS is undone; past it there is no deadline. */
export type StepTimeoutPolicy = 'SAGA_TIMEOUT_MS' | 'none';

export interface SagaStepDefinition<Name extends string = string> {
  readonly name: Name;
  /** The module whose data the step changes. */
  readonly module: string;
  readonly pivot: boolean;
  /** Has a compensation: every step up to the pivot, none past it. */
  readonly compensable: boolean;
  readonly retry: StepRetryPolicy;
  readonly timeout: StepTimeoutPolicy;
}

export interface SagaDefinition<Name extends string = string> {
  readonly name: string;
  readonly version: number;
  /** In order. */
  readonly steps: readonly SagaStepDefinition<Name>[];
}

/** A definition as the saga rows name it. */
export interface SagaDefinitionRef {
  readonly name: string;
  readonly version: number;
}

/**
 * The definition's identity as canonical JSON: its name, version and the ordered step shapes
 * (name, pivot, compensable). Code and tunable policy are left out: they may change within a
 * version; the shape may not.
 */
export function canonicalDefinition(definition: SagaDefinition): string {
  return JSON.stringify({
    name: definition.name,
    version: definition.version,
    steps: definition.steps.map((step) => ({
      name: step.name,
      pivot: step.pivot,
      compensable: step.compensable,
    })),
  });
}

/** sha256 (hex) of the canonical definition: what every saga row records. */
export function definitionHash(definition: SagaDefinition): string {
  return createHash('sha256').update(canonicalDefinition(definition)).digest('hex');
}

/** Refuses a definition the engines could not drive: it is checked once, when it is declared. */
export function defineSaga<const D extends SagaDefinition>(definition: D): D {
  const where = `Saga definition ${definition.name} v${definition.version}`;
  if (!Number.isInteger(definition.version) || definition.version < 1) {
    throw new Error(`${where}: the version must be a positive integer`);
  }
  const names = definition.steps.map((step) => step.name);
  if (names.length === 0 || new Set(names).size !== names.length) {
    throw new Error(`${where}: the steps must be non-empty and uniquely named`);
  }
  const pivots = definition.steps.filter((step) => step.pivot);
  if (pivots.length !== 1) throw new Error(`${where}: exactly one step must be the pivot`);
  const pivotIndex = definition.steps.findIndex((step) => step.pivot);
  definition.steps.forEach((step, index) => {
    const pastPivot = index > pivotIndex;
    if (step.compensable === pastPivot) {
      throw new Error(
        `${where}: step ${step.name} must ${pastPivot ? 'not ' : ''}be compensable (${pastPivot ? 'past' : 'up to'} the pivot)`,
      );
    }
    if (step.retry.whenExhausted !== (pastPivot ? 'give_up' : 'compensate')) {
      throw new Error(`${where}: step ${step.name} gives up the wrong way for its place`);
    }
    if (step.timeout !== (pastPivot ? 'none' : 'SAGA_TIMEOUT_MS')) {
      throw new Error(`${where}: step ${step.name} has the wrong timeout for its place`);
    }
  });
  return definition;
}
