import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronTask } from '../../common/cron-task';
import type { AppConfig } from '../../config/configuration';
import { IntegrityService } from './integrity.service';

/**
 * Runs the incremental reconciliation on `VERIFY_CRON` and the full one on `VERIFY_FULL_CRON`
 * (never two runs of one kind at once in one instance).
 */
@Injectable()
export class IntegrityScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly task: CronTask;
  private readonly fullTask: CronTask;

  constructor(
    integrity: IntegrityService,
    registry: SchedulerRegistry,
    config: ConfigService<AppConfig, true>,
  ) {
    const settings = config.get('integrity', { infer: true });
    // Their findings are logged and counted by the service.
    this.task = new CronTask(registry, 'integrity-verification', settings.cron, 'VERIFY_CRON', () =>
      integrity.verify('incremental'),
    );
    this.fullTask = new CronTask(
      registry,
      'integrity-full-verification',
      settings.fullCron,
      'VERIFY_FULL_CRON',
      () => integrity.verify('full'),
    );
  }

  onApplicationBootstrap(): void {
    this.task.start();
    this.fullTask.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([this.task.stop(), this.fullTask.stop()]);
  }

  /** One scheduled incremental run. */
  tick(): Promise<void> {
    return this.task.tick();
  }
}
