/**
 * What an identifier may hold: letters, digits, `.`, `_`, `:`, `-`, starting with a letter or a
 * digit. Nothing a URL, a log line, a Redis key or PostgreSQL could take differently.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const ID_CHARACTERS = 'letters, digits, ".", "_", ":" and "-", starting with a letter or digit';

/** The identifiers of the service and their longest forms. */
export const ID_RULES = {
  /** A user or item id (the columns are varchar(50)). */
  entity: { maxLength: 50, example: 'user-123' },
  /** A saga's transaction id (`TXN_<uuid>`; older ids are shorter). */
  transaction: { maxLength: 100, example: 'TXN_01936f7e-8a4b-7c1d-9e2f-3a4b5c6d7e8f' },
  /** An instance's name (INSTANCE_ID), with room for a fallback suffix in varchar(100). */
  instance: { maxLength: 90, example: 'checkout-1' },
} as const;

export type IdKind = keyof typeof ID_RULES;

/** The longest path parameter the router takes: the longest identifier a path holds. */
export const MAX_PATH_PARAM_LENGTH = ID_RULES.transaction.maxLength;

export function isIdentifier(value: unknown, kind: IdKind): value is string {
  return (
    typeof value === 'string' && value.length <= ID_RULES[kind].maxLength && ID_PATTERN.test(value)
  );
}

/** The rule, as a message says it: "1-50 letters, digits, ...". */
export function identifierRule(kind: IdKind): string {
  return `1-${ID_RULES[kind].maxLength} ${ID_CHARACTERS}`;
}
