import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { ItemsModule } from '../items/items.module';
import { LogsModule } from '../logs/logs.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { UsersModule } from '../users/users.module';
import { ChoreographyController } from './choreography.controller';
import { ChoreographyEngine } from './choreography/choreography.engine';
import { OutboxDispatcher } from './choreography/outbox-dispatcher';
import { OutboxRepository } from './choreography/outbox.repository';
import {
  ItemParticipant,
  LogParticipant,
  NotificationParticipant,
  UserParticipant,
} from './choreography/participants';
import { FaultInjector } from './engine/fault-injector';
import { InstanceIdentity } from './engine/instance-identity';
import { SagaRecovery } from './engine/saga-recovery';
import { SagaWaiters } from './engine/saga-waiters';
import { PatternController } from './pattern.controller';
import { Orchestrator } from './engine/orchestrator';
import { SagaEngines } from './engine/saga-engines';
import { StepBatches } from './engine/step-batches';
import { StepRunner } from './engine/step-runner';
import { PatternControl } from './pattern-control';
import { PurchaseController } from './purchase.controller';
import { PurchaseService } from './purchase.service';
import { SagaReportsRepository } from './saga-reports.repository';
import { SagaReportsService } from './saga-reports.service';
import { SagaController } from './saga.controller';
import { SagaRepository } from './saga.repository';
import { SagaViewCache } from './saga-view.cache';
import { SagaService } from './saga.service';
import { SagaSettingsRepository } from './saga-settings.repository';
import { ItemGrantStep } from './steps/item-grant.step';
import { LogRecordStep } from './steps/log-record.step';
import { NotificationStep } from './steps/notification.step';
import { SagaSteps } from './steps/saga-steps';
import { UserValidationStep } from './steps/user-validation.step';

@Module({
  imports: [UsersModule, ItemsModule, LogsModule, NotificationsModule, CacheModule],
  controllers: [PurchaseController, SagaController, ChoreographyController, PatternController],
  providers: [
    UserValidationStep,
    ItemGrantStep,
    LogRecordStep,
    NotificationStep,
    SagaSteps,
    SagaRepository,
    FaultInjector,
    StepRunner,
    StepBatches,
    Orchestrator,
    SagaEngines,
    SagaWaiters,
    InstanceIdentity,
    SagaRecovery,
    OutboxRepository,
    OutboxDispatcher,
    ChoreographyEngine,
    UserParticipant,
    ItemParticipant,
    LogParticipant,
    NotificationParticipant,
    SagaSettingsRepository,
    PatternControl,
    PurchaseService,
    SagaViewCache,
    SagaService,
    SagaReportsRepository,
    SagaReportsService,
  ],
  exports: [SagaService, PatternControl, SagaReportsService, SagaViewCache, InstanceIdentity],
})
export class SagaModule {}
