import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InfrastructureError } from '../../common/errors/domain-error';
import type { AppConfig } from '../../config/configuration';

/**
 * A simulated fault (NOTIFICATION_FAILURE_RATE, default 0): fails that share of the notification
 * step's attempts the way a flaky provider would, to exercise its retries and give-up. It
 * delivers nothing; delivery is the channels' business.
 */
@Injectable()
export class SimulatedNotificationFailure {
  private readonly rate: number;

  constructor(config: ConfigService<AppConfig, true>) {
    this.rate = config.get('notificationFailureRate', { infer: true });
  }

  /** Throws for a simulated share of the calls. */
  strike(userId: string): void {
    if (this.rate > 0 && Math.random() < this.rate) {
      throw new InfrastructureError(
        `Simulated notification failure for ${userId} (NOTIFICATION_FAILURE_RATE)`,
      );
    }
  }
}
