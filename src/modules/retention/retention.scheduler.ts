import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronTask } from '../../common/cron-task';
import type { AppConfig } from '../../config/configuration';
import { InstanceIdentity } from '../saga/core/instance-identity';
import { RetentionService } from './retention.service';

/**
 * Runs the retention job on `RETENTION_CRON`. Every instance schedules it; the one that takes
 * the job's lock runs it, the others find it busy and skip that tick.
 */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly task: CronTask;

  constructor(
    retention: RetentionService,
    identity: InstanceIdentity,
    registry: SchedulerRegistry,
    config: ConfigService<AppConfig, true>,
  ) {
    this.task = new CronTask(
      registry,
      'retention',
      config.get('retention', { infer: true }).cron,
      'RETENTION_CRON',
      () => retention.run(identity.id),
    );
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }
}
