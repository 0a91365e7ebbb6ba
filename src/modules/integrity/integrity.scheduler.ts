import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob, validateCronExpression } from 'cron';
import { ConfigError, type AppConfig } from '../../config/configuration';
import { IntegrityService } from './integrity.service';

const JOB_NAME = 'integrity-verification';

/** Runs the reconciliation on `VERIFY_CRON` (never two runs at once in one instance). */
@Injectable()
export class IntegrityScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(IntegrityScheduler.name);
  private readonly cron: string | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly integrity: IntegrityService,
    private readonly registry: SchedulerRegistry,
    config: ConfigService<AppConfig, true>,
  ) {
    this.cron = config.get('integrity', { infer: true }).cron;
    if (this.cron !== undefined) {
      const validation = validateCronExpression(this.cron);
      if (!validation.valid) {
        throw new ConfigError(
          'VERIFY_CRON',
          `must be a cron expression or "off", got "${this.cron}" (${validation.error?.message ?? 'invalid'})`,
        );
      }
    }
  }

  onApplicationBootstrap(): void {
    if (this.cron === undefined) return;
    const job = CronJob.from({ cronTime: this.cron, onTick: () => this.tick(), start: true });
    this.registry.addCronJob(JOB_NAME, job);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.registry.doesExist('cron', JOB_NAME)) {
      await this.registry.getCronJob(JOB_NAME).stop();
      this.registry.deleteCronJob(JOB_NAME);
    }
    await this.running;
  }

  /** One scheduled run; its findings are logged and counted by the service. */
  tick(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.running = this.integrity
      .verify()
      .then(
        () => undefined,
        (error: unknown) => this.logger.error(`Integrity check failed to run: ${String(error)}`),
      )
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
