import { PURCHASE_SAGA_V1 } from './purchase-saga.definition';
import { definitionHash, type SagaDefinition, type SagaDefinitionRef } from './saga-definition';

/** A registered definition with its hash, as saga rows record it. */
export interface RegisteredDefinition extends SagaDefinitionRef {
  readonly hash: string;
  readonly definition: SagaDefinition;
}

function registered(definition: SagaDefinition): RegisteredDefinition {
  return {
    name: definition.name,
    version: definition.version,
    hash: definitionHash(definition),
    definition,
  };
}

/** The definition new purchase sagas start on. */
export const CURRENT_PURCHASE_DEFINITION = registered(PURCHASE_SAGA_V1);

/**
 * Every definition this build can drive. An instance drives only sagas of these; an older
 * version stays here until none of its sagas is open.
 */
export const REGISTERED_DEFINITIONS: readonly RegisteredDefinition[] = [
  CURRENT_PURCHASE_DEFINITION,
];

export function isRegistered(ref: SagaDefinitionRef): boolean {
  return registeredDefinition(ref) !== undefined;
}

/** The registered definition of that name and version, if this build has it. */
export function registeredDefinition(ref: SagaDefinitionRef): RegisteredDefinition | undefined {
  return REGISTERED_DEFINITIONS.find(
    (candidate) => candidate.name === ref.name && candidate.version === ref.version,
  );
}

/** The registered (name, version) pairs as two parallel arrays, for an `unnest` SQL condition. */
export function registeredPairs(): { names: string[]; versions: number[] } {
  return {
    names: REGISTERED_DEFINITIONS.map((definition) => definition.name),
    versions: REGISTERED_DEFINITIONS.map((definition) => definition.version),
  };
}
