import { hash } from 'node:crypto';
import type { SagaView } from './saga.mapper';
import { SAGA_STATUSES } from '../core/saga';

export function encodeSagaView(view: SagaView): string {
  return JSON.stringify(view);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isDate(value: unknown): value is string {
  return typeof value === 'string' && !Number.isNaN(new Date(value).getTime());
}

/** A list of steps, each with its name, status and time. */
function isStepList(value: unknown): value is Json[] {
  return (
    Array.isArray(value) &&
    (value as unknown[]).every(
      (step) =>
        isObject(step) &&
        typeof step.step === 'string' &&
        typeof step.status === 'string' &&
        isDate(step.executedAt),
    )
  );
}

/** Parsed cached text that is a view of `transactionId`, dates still as text; else undefined. */
function parseView(text: string, transactionId: string): Json | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || parsed.transactionId !== transactionId) return undefined;
  if (!(SAGA_STATUSES as readonly unknown[]).includes(parsed.status)) return undefined;
  if (typeof parsed.pattern !== 'string' || !isObject(parsed.purchaseData)) return undefined;
  if (!isObject(parsed.definition)) return undefined;
  if (!isStepList(parsed.steps) || !isStepList(parsed.compensations)) return undefined;
  if (!isDate(parsed.startedAt)) return undefined;
  for (const field of ['completedAt', 'failedAt'] as const) {
    if (parsed[field] !== undefined && !isDate(parsed[field])) return undefined;
  }
  return parsed;
}

/** Marks a sealed view; a later format takes another (sv2: views name their definition). */
const SEAL = 'sv2:';
/** A SHA-256 digest in base64. */
const DIGEST_LENGTH = 44;

function digestOf(json: string, transactionId: string): string {
  return hash('sha256', `${transactionId}\n${json}`, 'base64');
}

/**
 * A view's JSON as the cache holds it: behind a digest of the saga id and the JSON itself, so a
 * read can check a cached view without parsing it.
 */
export function sealSagaView(json: string, transactionId: string): string {
  return `${SEAL}${digestOf(json, transactionId)}${json}`;
}

/**
 * The JSON of a sealed view of `transactionId`, to be sent as it is; undefined when the text is
 * not one (corrupt, truncated, another saga's, or written by something else): the caller then
 * reads the database.
 */
export function unsealSagaView(text: string, transactionId: string): string | undefined {
  if (!text.startsWith(SEAL)) return undefined;
  const start = SEAL.length + DIGEST_LENGTH;
  const json = text.slice(start);
  return text.slice(SEAL.length, start) === digestOf(json, transactionId) ? json : undefined;
}

/** A cached view of `transactionId` with its dates revived, or undefined when it is not one. */
export function decodeSagaView(text: string, transactionId: string): SagaView | undefined {
  const parsed = parseView(text, transactionId);
  if (parsed === undefined) return undefined;
  const revive = (value: unknown) => new Date(value as string);
  for (const step of [...(parsed.steps as Json[]), ...(parsed.compensations as Json[])]) {
    step.executedAt = revive(step.executedAt);
  }
  for (const field of ['startedAt', 'completedAt', 'failedAt'] as const) {
    if (parsed[field] !== undefined) parsed[field] = revive(parsed[field]);
  }
  const { notification } = parsed;
  if (isObject(notification) && isDate(notification.deliveredAt)) {
    notification.deliveredAt = revive(notification.deliveredAt);
  }
  return parsed as unknown as SagaView;
}
