import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module';
import { ItemsModule } from '../items/items.module';
import { LogsModule } from '../logs/logs.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { UsersModule } from '../users/users.module';
import { ChoreographyController } from './choreography/choreography.controller';
import { ChoreographyEngine } from './choreography/choreography.engine';
import { OutboxDispatcher } from './choreography/outbox-dispatcher';
import { OutboxRepository } from './choreography/outbox.repository';
import {
  ItemParticipant,
  LogParticipant,
  NotificationParticipant,
  UserParticipant,
} from './choreography/participants';
import { FaultInjector } from './core/fault-injector';
import { InstanceIdentity } from './core/instance-identity';
import { SagaRecovery } from './runtime/saga-recovery';
import { SagaWaiters } from './core/saga-waiters';
import { PatternController } from './runtime/pattern.controller';
import { Orchestrator } from './orchestration/orchestrator';
import { SagaEngines } from './runtime/saga-engines';
import { StepBatches } from './core/step-batches';
import { StepRunner } from './core/step-runner';
import { PatternControl } from './runtime/pattern-control';
import { PurchaseController } from './runtime/purchase.controller';
import { PurchaseService } from './runtime/purchase.service';
import { SagaReportsRepository } from './read-model/saga-reports.repository';
import { SagaReportsService } from './read-model/saga-reports.service';
import { SagaController } from './read-model/saga.controller';
import { SagaRepository } from './core/saga.repository';
import { SagaViewCache } from './read-model/saga-view.cache';
import { SagaService } from './read-model/saga.service';
import { SagaSettingsRepository } from './runtime/saga-settings.repository';
import { ItemGrantStep } from './core/steps/item-grant.step';
import { LogRecordStep } from './core/steps/log-record.step';
import { NotificationStep } from './core/steps/notification.step';
import { SagaSteps } from './core/steps/saga-steps';
import { UserValidationStep } from './core/steps/user-validation.step';

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
