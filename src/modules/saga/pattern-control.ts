import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig, SagaPattern } from '../../config/configuration';

/** Which pattern new purchases use when they name none (SAGA_PATTERN_MODE, switchable by admins). */
@Injectable()
export class PatternControl {
  private readonly logger = new Logger(PatternControl.name);
  private mode: SagaPattern;

  constructor(config: ConfigService<AppConfig, true>) {
    this.mode = config.get('saga', { infer: true }).defaultPattern;
  }

  get current(): SagaPattern {
    return this.mode;
  }

  switchTo(mode: SagaPattern): { previous: SagaPattern; current: SagaPattern } {
    const previous = this.mode;
    this.mode = mode;
    if (previous !== mode)
      this.logger.log(`Saga pattern for new purchases: ${previous} -> ${mode}`);
    return { previous, current: mode };
  }
}
