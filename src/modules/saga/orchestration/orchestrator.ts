import { Injectable, Logger } from '@nestjs/common';
import { InstanceIdentity } from '../core/instance-identity';
import { isTerminal, remainingToCompensate, type SagaError, type SagaRecord } from '../core/saga';
import type { SagaEngine, StartSaga } from '../core/saga-engine';
import { StepRunner, type Move } from '../core/step-runner';
import { SagaSteps } from '../core/steps/saga-steps';

/** How long shutdown waits for the sagas driven here to finish the step they are in. */
const DRAIN_MS = 10_000;

/**
 * The orchestration pattern: one driver takes a saga through its steps in order and, when one
 * is refused or keeps failing before the pivot, through the undos of the committed ones in
 * reverse. It holds no business rule: the steps do the work, the runner decides what an outcome
 * means, the store commits.
 */
@Injectable()
export class Orchestrator implements SagaEngine {
  readonly pattern = 'orchestration' as const;
  private readonly logger = new Logger(Orchestrator.name);
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly steps: SagaSteps,
    private readonly runner: StepRunner,
    private readonly identity: InstanceIdentity,
  ) {}

  /** Nothing to write: the orchestrator itself is what starts a saga. */
  initiate(sagas: readonly SagaRecord[]): Promise<StartSaga[]> {
    return Promise.resolve(
      sagas.map((saga) => (waitMs: number) => this.settledWithin(this.drive(saga), waitMs)),
    );
  }

  async resume(saga: SagaRecord): Promise<void> {
    await this.drive(saga);
  }

  async compensate(saga: SagaRecord, reason: SagaError): Promise<'done' | 'stale'> {
    let current = saga;
    if (saga.status !== 'compensating' && saga.status !== 'failed') {
      const taken = await this.runner.takeOver(saga, reason);
      if (taken.kind === 'stale') return 'stale';
      current = taken.saga;
    } else if (saga.status === 'failed') {
      // A compensation that gave up: its undo is tried again, then the rest as usual.
      const [newest] = remainingToCompensate(saga);
      if (newest === undefined) return 'done';
      const undone = await this.track(this.runner.undo(saga, this.steps.get(newest)));
      if (undone.kind === 'stale') return 'stale';
      current = undone.saga;
    }
    await this.drive(current);
    return 'done';
  }

  async drain(): Promise<void> {
    if (this.inFlight.size === 0) return;
    this.logger.log(`Waiting for ${this.inFlight.size} saga(s) in flight`);
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => setTimeout(resolve, DRAIN_MS).unref()),
    ]);
  }

  /** Drives a saga from wherever it stands until it is terminal (or this instance drains). */
  private drive(saga: SagaRecord): Promise<SagaRecord> {
    return this.track(this.run(saga));
  }

  private track<T>(run: Promise<T>): Promise<T> {
    this.inFlight.add(run);
    const forget = () => this.inFlight.delete(run);
    run.then(forget, forget);
    return run;
  }

  private async run(saga: SagaRecord): Promise<SagaRecord> {
    let current = saga;
    // Shutting down: the saga waits, leased, for the hand-over to another instance.
    while (!this.identity.draining) {
      const move = await this.next(current);
      if (move === undefined || move.kind === 'stale') break;
      current = move.saga;
    }
    return current;
  }

  /** The saga's next move: its next undo when compensating, else its next step; none at the end. */
  private next(saga: SagaRecord): Promise<Move> | undefined {
    if (saga.status === 'compensating') {
      const [newest] = remainingToCompensate(saga);
      return newest === undefined ? undefined : this.runner.undo(saga, this.steps.get(newest));
    }
    if (isTerminal(saga.status)) return undefined;
    const step = this.steps.next(saga.completed.at(-1) ?? null);
    return step === undefined ? undefined : this.runner.advance(saga, step);
  }

  private async settledWithin(run: Promise<unknown>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      const finished = await Promise.race([run.then(() => true as const), timeout]);
      if (!finished) {
        run.catch((error: unknown) => this.logger.error(`Saga stopped: ${String(error)}`));
      }
      return finished;
    } finally {
      clearTimeout(timer);
    }
  }
}
