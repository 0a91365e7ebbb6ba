import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronTask } from '../../common/cron-task';
import type { AppConfig } from '../../config/configuration';
import { IntegrityService } from './integrity.service';

/** Runs the reconciliation on `VERIFY_CRON` (never two runs at once in one instance). */
@Injectable()
export class IntegrityScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly task: CronTask;

  constructor(
    integrity: IntegrityService,
    registry: SchedulerRegistry,
    config: ConfigService<AppConfig, true>,
  ) {
    // Its findings are logged and counted by the service.
    this.task = new CronTask(
      registry,
      'integrity-verification',
      config.get('integrity', { infer: true }).cron,
      'VERIFY_CRON',
      () => integrity.verify(),
    );
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** One scheduled run. */
  tick(): Promise<void> {
    return this.task.tick();
  }
}
