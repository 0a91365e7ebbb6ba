import { Module } from '@nestjs/common';
import { ItemsModule } from '../../items/items.module';
import { LogsModule } from '../../logs/logs.module';
import { NotificationsModule } from '../../notifications/notifications.module';
import { UsersModule } from '../../users/users.module';
import { FaultInjector } from './fault-injector';
import { InstanceIdentity } from './instance-identity';
import { SagaStore } from './saga-store';
import { SagaVersions } from './saga-versions';
import { SagaWaiters } from './saga-waiters';
import { SagaRepository } from './saga.repository';
import { StepRunner } from './step-runner';
import { ItemGrantStep } from './steps/item-grant.step';
import { LogRecordStep } from './steps/log-record.step';
import { NotificationStep } from './steps/notification.step';
import { SAGA_STEPS_PROVIDER, SagaSteps } from './steps/saga-steps';
import { UserValidationStep } from './steps/user-validation.step';

/**
 * The saga itself, whoever drives it: its steps, its store (the transactions, group commit
 * inside), the runner both patterns drive it through, and this instance's identity in leases.
 */
@Module({
  imports: [UsersModule, ItemsModule, LogsModule, NotificationsModule],
  providers: [
    UserValidationStep,
    ItemGrantStep,
    LogRecordStep,
    NotificationStep,
    SAGA_STEPS_PROVIDER,
    SagaRepository,
    SagaStore,
    FaultInjector,
    StepRunner,
    InstanceIdentity,
    SagaWaiters,
    SagaVersions,
  ],
  exports: [SagaSteps, SagaRepository, StepRunner, InstanceIdentity, SagaWaiters, SagaVersions],
})
export class SagaCoreModule {}
