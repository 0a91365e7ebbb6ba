import { SAGA_STATUSES } from './saga-state.entity';
import type { SagaView } from './saga.mapper';

export function encodeSagaView(view: SagaView): string {
  return JSON.stringify(view);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function date(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

/** Revives the dates of a list of steps in place; false when one is not a step. */
function reviveSteps(value: unknown): value is Json[] {
  if (!Array.isArray(value)) return false;
  for (const step of value as unknown[]) {
    if (!isObject(step) || typeof step.step !== 'string' || typeof step.status !== 'string') {
      return false;
    }
    const executedAt = date(step.executedAt);
    if (executedAt === undefined) return false;
    step.executedAt = executedAt;
  }
  return true;
}

/**
 * A cached view of `transactionId`, or undefined when the text is not one (corrupt, truncated or
 * written by something else): the caller then reads the database.
 */
export function decodeSagaView(text: string, transactionId: string): SagaView | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || parsed.transactionId !== transactionId) return undefined;
  if (!(SAGA_STATUSES as readonly unknown[]).includes(parsed.status)) return undefined;
  if (typeof parsed.pattern !== 'string' || !isObject(parsed.purchaseData)) return undefined;
  if (!reviveSteps(parsed.steps) || !reviveSteps(parsed.compensations)) return undefined;
  const startedAt = date(parsed.startedAt);
  if (startedAt === undefined) return undefined;
  parsed.startedAt = startedAt;
  for (const field of ['completedAt', 'failedAt'] as const) {
    if (parsed[field] === undefined) continue;
    const revived = date(parsed[field]);
    if (revived === undefined) return undefined;
    parsed[field] = revived;
  }
  return parsed as unknown as SagaView;
}
