import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../../config/configuration';
import { InfrastructureError } from '../../../common/errors/domain-error';
import { isStepName } from './saga';

export type FaultAction = 'fail' | 'crash-before' | 'crash-after' | 'delay';
export interface Fault {
  action: FaultAction;
  /** A step name, or `compensation:<step>`. */
  target: string;
  probability: number;
  delayMs: number;
}

/** Parses `SAGA_FAULTS`: a comma list of ACTION:STEP[:PROBABILITY]. */
export function parseFaults(spec: string): Fault[] {
  return spec
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const pieces = part.split(':');
      const [actionText] = pieces;
      let rest = pieces.slice(1);
      let target = rest[0] ?? '';
      if (target === 'compensation') {
        target = `compensation:${rest[1] ?? ''}`;
        rest = rest.slice(2);
      } else {
        rest = rest.slice(1);
      }
      const stepName = target.replace(/^compensation:/, '');
      if (!isStepName(stepName)) throw new Error(`SAGA_FAULTS: unknown step in "${part}"`);
      const probability = rest[0] === undefined ? 1 : Number(rest[0]);
      if (!Number.isFinite(probability) || probability < 0 || probability > 1) {
        throw new Error(`SAGA_FAULTS: probability must be between 0 and 1 in "${part}"`);
      }
      const delay = /^delay-(\d+)$/.exec(actionText);
      if (delay !== null)
        return { action: 'delay', target, probability, delayMs: Number(delay[1]) };
      if (actionText === 'fail' || actionText === 'crash-before' || actionText === 'crash-after') {
        return { action: actionText, target, probability, delayMs: 0 };
      }
      throw new Error(`SAGA_FAULTS: unknown action in "${part}"`);
    });
}

/**
 * Fault injection for tests (SAGA_FAULTS; off unless set): fail a step with an infrastructure
 * error, delay it, or kill the process (as SIGKILL would) just before it starts or just after its
 * transaction commits.
 */
@Injectable()
export class FaultInjector {
  private readonly logger = new Logger(FaultInjector.name);
  private readonly faults: Fault[];

  constructor(config: ConfigService<AppConfig, true>) {
    this.faults = parseFaults(config.get('saga', { infer: true }).faults);
    if (this.faults.length > 0) {
      this.logger.warn(`Fault injection is ON: ${config.get('saga', { infer: true }).faults}`);
    }
  }

  private hits(action: FaultAction, target: string): Fault | undefined {
    return this.faults.find(
      (fault) =>
        fault.action === action && fault.target === target && Math.random() < fault.probability,
    );
  }

  /**
   * Once, before the step's first attempt: before a forward step is submitted to its batch, or
   * before a compensation's transaction opens.
   */
  beforeStep(target: string): void {
    if (this.hits('crash-before', target) !== undefined) this.crash(`before ${target}`);
  }

  /**
   * At every attempt, before the effect. For a compensation it runs inside the compensation's
   * transaction; for a forward step it runs just before the step is submitted to its batch,
   * outside any transaction (a delay holds no transaction open, and a failure writes nothing).
   */
  async inStep(target: string): Promise<void> {
    const delay = this.hits('delay', target);
    if (delay !== undefined) await new Promise((resolve) => setTimeout(resolve, delay.delayMs));
    if (this.hits('fail', target) !== undefined) {
      throw new InfrastructureError(`Injected failure of ${target}`);
    }
  }

  /**
   * Once the step's transaction has committed, before the saga's next move (in choreography,
   * before the events it raised are published).
   */
  afterStep(target: string): void {
    if (this.hits('crash-after', target) !== undefined) this.crash(`after ${target}`);
  }

  private crash(where: string): never {
    process.stderr.write(`Injected crash ${where}\n`);
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL is not delivered synchronously everywhere: never run another line of the saga.
    throw new Error('unreachable');
  }
}
