import { Module } from '@nestjs/common';
import { ItemsModule } from '../items/items.module';
import { LogsModule } from '../logs/logs.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { UsersModule } from '../users/users.module';
import { FaultInjector } from './engine/fault-injector';
import { Orchestrator } from './engine/orchestrator';
import { SagaEngines } from './engine/saga-engines';
import { StepRunner } from './engine/step-runner';
import { PatternControl } from './pattern-control';
import { PurchaseController } from './purchase.controller';
import { PurchaseService } from './purchase.service';
import { SagaReportsRepository } from './saga-reports.repository';
import { SagaReportsService } from './saga-reports.service';
import { SagaController } from './saga.controller';
import { SagaRepository } from './saga.repository';
import { SagaService } from './saga.service';
import { ItemGrantStep } from './steps/item-grant.step';
import { LogRecordStep } from './steps/log-record.step';
import { NotificationStep } from './steps/notification.step';
import { SagaSteps } from './steps/saga-steps';
import { UserValidationStep } from './steps/user-validation.step';

@Module({
  imports: [UsersModule, ItemsModule, LogsModule, NotificationsModule],
  controllers: [PurchaseController, SagaController],
  providers: [
    UserValidationStep,
    ItemGrantStep,
    LogRecordStep,
    NotificationStep,
    SagaSteps,
    SagaRepository,
    FaultInjector,
    StepRunner,
    Orchestrator,
    SagaEngines,
    PatternControl,
    PurchaseService,
    SagaService,
    SagaReportsRepository,
    SagaReportsService,
  ],
  exports: [SagaService, PatternControl, SagaReportsService],
})
export class SagaModule {}
