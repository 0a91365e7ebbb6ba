import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { errorMessage } from '../../../common/errors/error-message';
import { PeriodicTask } from '../../../common/periodic-task';
import type { AppConfig } from '../../../config/configuration';
import { SagaRollupsRepository } from './saga-rollups.repository';

/** Every this many folds of this instance, the emptied tables are vacuumed. */
const FOLDS_PER_VACUUM = 30;

/**
 * Folds the saga rollups' deltas every STATS_ROLLUP_MS, on whichever instance gets there first.
 * Readers add the deltas not folded yet, so figures are exact however late a fold is; folding
 * keeps what they add small.
 */
@Injectable()
export class SagaRollupsJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SagaRollupsJob.name);
  private readonly task: PeriodicTask;
  private failing = false;
  private folds = 0;

  constructor(
    private readonly rollups: SagaRollupsRepository,
    config: ConfigService<AppConfig, true>,
  ) {
    this.task = new PeriodicTask(() => this.fold(), config.get('rollupMs', { infer: true }));
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.task.stop();
  }

  /** One fold now (or the one under way); false when another instance was folding. */
  async fold(): Promise<boolean> {
    try {
      const folded = await this.rollups.fold();
      if (folded && ++this.folds % FOLDS_PER_VACUUM === 1) await this.rollups.vacuum();
      if (this.failing) this.logger.log('Folding the saga rollups works again');
      this.failing = false;
      return folded;
    } catch (error) {
      // Once per outage: the figures stay exact meanwhile (readers add the deltas).
      if (!this.failing)
        this.logger.warn(`Folding the saga rollups failed: ${errorMessage(error)}`);
      this.failing = true;
      return false;
    }
  }
}
