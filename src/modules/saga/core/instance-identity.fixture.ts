import type { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../../config/configuration';
import type { OutboxRepository } from '../choreography/outbox.repository';
import type { SagaRepository } from './saga.repository';
import { InstanceIdentity } from './instance-identity';

/** For unit tests: this process's identity as the engine reads it, with no database session. */
export function testIdentity(id = 'test-instance'): InstanceIdentity {
  const config = { get: () => ({ id, explicit: false, url: undefined }) };
  return new InstanceIdentity(
    {} as SagaRepository,
    {} as OutboxRepository,
    config as unknown as ConfigService<AppConfig, true>,
  );
}
