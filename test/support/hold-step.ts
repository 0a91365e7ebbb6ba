import { FaultInjector } from '../../src/modules/saga/core/fault-injector';
import type { TestApp } from './test-app';

export interface HeldStep {
  /** Resolves once a saga has reached the step (its previous steps committed). */
  reached: Promise<void>;
  /** Lets the saga go on. */
  release(): void;
  /** Releases it and stops holding. */
  restore(): void;
}

/**
 * Holds the first saga to enter `target` (a step, or `compensation:<step>`) at the start of the
 * step, where SAGA_FAULTS would delay it, until the test releases it: a state in the middle of a
 * saga lasts exactly as long as the test needs, whatever the machine's speed.
 */
export function holdStep(t: TestApp, target: string): HeldStep {
  return holdSteps(t, target)[0];
}

/**
 * `holdStep` for several steps at once, each held for the first saga that enters it; restoring
 * any of them releases all and stops holding.
 */
export function holdSteps(t: TestApp, ...targets: string[]): HeldStep[] {
  const faults = t.app.get(FaultInjector, { strict: false });
  const inStep = faults.inStep.bind(faults);
  const holds = new Map(
    targets.map((target) => {
      let entered!: () => void;
      const reached = new Promise<void>((resolve) => (entered = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      return [target, { held: false, entered, reached, release, released }];
    }),
  );
  const spy = jest.spyOn(faults, 'inStep').mockImplementation(async (name: string) => {
    const hold = holds.get(name);
    if (hold !== undefined && !hold.held) {
      hold.held = true;
      hold.entered();
      await hold.released;
    }
    return inStep(name);
  });
  const restore = () => {
    holds.forEach((hold) => hold.release());
    spy.mockRestore();
  };
  return [...holds.values()].map(({ reached, release }) => ({ reached, release, restore }));
}
