import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SAGA_PATTERNS, type AppConfig, type SagaPattern } from '../../../config/configuration';
import { PeriodicTask } from '../../../common/periodic-task';
import { SagaSettingsRepository } from './saga-settings.repository';

const KEY = 'saga_pattern_mode';
const REFRESH_MS = 1000;

function isPattern(value: string | undefined): value is SagaPattern {
  return value !== undefined && (SAGA_PATTERNS as readonly string[]).includes(value);
}

/**
 * Which pattern new purchases use when they name none: SAGA_PATTERN_MODE until an admin switches
 * it. A switch is stored in the database, so every instance follows it within a second; purchases
 * read the value held in memory, never the database.
 */
@Injectable()
export class PatternControl implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(PatternControl.name);
  private mode: SagaPattern;
  private readonly refresher = new PeriodicTask(() => this.refresh(), REFRESH_MS);

  constructor(
    private readonly settings: SagaSettingsRepository,
    config: ConfigService<AppConfig, true>,
  ) {
    this.mode = config.get('saga', { infer: true }).defaultPattern;
  }

  get current(): SagaPattern {
    return this.mode;
  }

  async onApplicationBootstrap(): Promise<void> {
    this.refresher.start();
    // The stored mode is in force before the first request.
    await this.refresher.runOnce();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.refresher.stop();
  }

  async switchTo(mode: SagaPattern): Promise<{ previous: SagaPattern; current: SagaPattern }> {
    const previous = this.mode;
    await this.settings.set(KEY, mode);
    this.adopt(mode);
    return { previous, current: mode };
  }

  private async refresh(): Promise<void> {
    try {
      const stored = await this.settings.get(KEY);
      if (isPattern(stored)) this.adopt(stored);
    } catch (error) {
      this.logger.warn(`Could not read the saga mode; keeping ${this.mode}: ${String(error)}`);
    }
  }

  private adopt(mode: SagaPattern): void {
    if (mode === this.mode) return;
    this.logger.log(`Saga pattern for new purchases: ${this.mode} -> ${mode}`);
    this.mode = mode;
  }
}
