import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleInit,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AppConfig } from '../../../config/configuration';
import { PeriodicTask } from '../../../common/periodic-task';
import { SAGA_RECOVERED, SagaRecoveredEvent } from '../core/saga-changed.event';
import { SagaRepository } from '../core/saga.repository';
import { OutboxRepository } from '../choreography/outbox.repository';
import { InstanceIdentity } from '../core/instance-identity';
import { SagaWaiters } from '../core/saga-waiters';
import { PurchaseService } from './purchase.service';
import { SagaEngines } from './saga-engines';

const BATCH = 50;
/** How long shutdown waits for the purchases under way to be answered. */
const ANSWER_MS = 5_000;

/**
 * Finds sagas that nobody is driving any more — their driver crashed or hung and its lease
 * expired, or it let go of them — and hands them back to their own pattern's engine: on start
 * (at once for what this instance's previous run left, see InstanceIdentity), on a schedule, and
 * at once when another instance says it let go. Each instance claims different sagas (SKIP
 * LOCKED), and a claim fences out the previous driver. On shutdown it does the reverse: the steps
 * and events in flight here finish, no next one starts, this instance's leases on sagas and
 * outbox writes are let go for the others, and the purchases waiting here are answered.
 */
@Injectable()
export class SagaRecovery
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(SagaRecovery.name);
  private readonly leaseMs: number;
  private readonly task: PeriodicTask;

  constructor(
    private readonly sagas: SagaRepository,
    private readonly engines: SagaEngines,
    private readonly outbox: OutboxRepository,
    private readonly identity: InstanceIdentity,
    private readonly events: EventEmitter2,
    private readonly waiters: SagaWaiters,
    private readonly purchases: PurchaseService,
    config: ConfigService<AppConfig, true>,
  ) {
    const saga = config.get('saga', { infer: true });
    this.leaseMs = saga.leaseMs;
    this.task = new PeriodicTask(() => this.recover(), saga.recoveryPollMs);
  }

  /**
   * Before anything here runs (recovery's first pass, the outbox sweep): what this instance's
   * previous run left leased is ours to finish, at once.
   */
  async onModuleInit(): Promise<void> {
    if (!this.identity.inheritsLeases) return;
    const left = await this.expireOwnLeases();
    if (left.sagas + left.outbox > 0) {
      this.logger.warn(
        `Taking back ${left.sagas} saga(s) and ${left.outbox} outbox write(s) left by the previous run of ${this.identity.id}`,
      );
    }
  }

  onApplicationBootstrap(): void {
    this.task.start();
    this.identity.onLeasesReleased(() => this.task.runSoon());
  }

  /** A pass as soon as possible (sagas were just let go here, by an admin's move). */
  claimSoon(): void {
    this.task.runSoon();
  }

  /** The hand-over: in this order, whatever order Nest calls the providers' own hooks in. */
  async beforeApplicationShutdown(): Promise<void> {
    this.identity.startDraining();
    await this.task.stop();
    await this.engines.drain();
    try {
      await this.releaseLeases();
    } catch (error) {
      this.logger.warn(`Letting go of this instance's leases failed: ${String(error)}`);
    }
    // The purchases still waiting for a saga are answered with it as it stands (202), while the
    // database and the cache are still open.
    this.waiters.releaseAll();
    await this.purchases.answered(ANSWER_MS);
  }

  /** One pass: claims expired sagas batch by batch and resumes them; returns how many. */
  async recover(): Promise<number> {
    let total = 0;
    try {
      while (!this.task.isStopped) {
        const claimed = await this.sagas.claimExpired(this.identity.id, this.leaseMs, BATCH);
        if (claimed.length === 0) break;
        total += claimed.length;
        this.logger.warn(`Recovering ${claimed.length} saga(s) whose driver's lease expired`);
        for (const row of claimed) {
          const event: SagaRecoveredEvent = {
            transactionId: row.transaction_id,
            pattern: row.pattern,
          };
          this.events.emit(SAGA_RECOVERED, event);
        }
        const steps = await this.sagas.findStepsOf(claimed.map((row) => row.transaction_id));
        await Promise.all(
          claimed.map((row) =>
            this.engines
              .resume(
                row,
                steps.filter((s) => s.transaction_id === row.transaction_id),
              )
              .catch((error: unknown) =>
                this.logger.error(`Recovery of ${row.transaction_id} stopped: ${String(error)}`),
              ),
          ),
        );
      }
    } catch (error) {
      this.logger.error(`Recovery pass failed: ${String(error)}`);
    }
    return total;
  }

  /**
   * Lets go of every lease this instance holds on open sagas and pending outbox writes, and tells
   * the other instances to claim them now. A saga still moving here is fenced out by their claim.
   */
  private async releaseLeases(): Promise<void> {
    const released = await this.expireOwnLeases();
    if (released.sagas + released.outbox === 0) return;
    this.logger.log(
      `Handed over ${released.sagas} saga(s) and ${released.outbox} outbox write(s) to the other instances`,
    );
    await this.identity.announceReleased();
  }

  private async expireOwnLeases(): Promise<{ sagas: number; outbox: number }> {
    const [sagas, outbox] = await Promise.all([
      this.sagas.expireLeasesOf(this.identity.id),
      this.outbox.expireLeasesOf(this.identity.id),
    ]);
    return { sagas, outbox };
  }
}
