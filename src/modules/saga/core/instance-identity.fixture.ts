import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../../config/configuration';
import { InstanceIdentity } from './instance-identity';

/** For unit tests: this process's identity as the engine reads it, with no database session. */
export function testIdentity(id = 'test-instance'): InstanceIdentity {
  return new InstanceIdentity(
    new ConfigService<AppConfig, true>({ instance: { id, explicit: false }, database: {} }),
  );
}
