import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob, validateCronExpression } from 'cron';
import { ConfigError } from '../config/configuration';
import { errorMessage } from './errors/error-message';

/**
 * A job run on a cron schedule set by `variable` (undefined: `off`, never scheduled), never two
 * runs at once in one process. A bad expression stops the start with an error naming the
 * variable; a run that throws is logged and the schedule goes on.
 */
export class CronTask {
  private readonly logger: Logger;
  private running: Promise<void> | undefined;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly name: string,
    private readonly cron: string | undefined,
    variable: string,
    private readonly work: () => Promise<unknown>,
  ) {
    this.logger = new Logger(name);
    if (cron !== undefined) {
      const validation = validateCronExpression(cron);
      if (!validation.valid) {
        throw new ConfigError(
          variable,
          `must be a cron expression or "off", got "${cron}" (${validation.error?.message ?? 'invalid'})`,
        );
      }
    }
  }

  start(): void {
    if (this.cron === undefined) return;
    const job = CronJob.from({ cronTime: this.cron, onTick: () => this.tick(), start: true });
    this.registry.addCronJob(this.name, job);
  }

  /** Stops the schedule and waits for a run in progress. */
  async stop(): Promise<void> {
    if (this.registry.doesExist('cron', this.name)) {
      await this.registry.getCronJob(this.name).stop();
      this.registry.deleteCronJob(this.name);
    }
    await this.running;
  }

  /** One run now (or the one in progress). */
  tick(): Promise<void> {
    if (this.running !== undefined) return this.running;
    this.running = this.work()
      .then(
        () => undefined,
        (error: unknown) => this.logger.error(`${this.name} failed to run: ${errorMessage(error)}`),
      )
      .finally(() => (this.running = undefined));
    return this.running;
  }
}
