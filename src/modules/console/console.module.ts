import { Module } from '@nestjs/common';
import { ItemsModule } from '../items/items.module';
import { SagaModule } from '../saga/saga.module';
import { UsersModule } from '../users/users.module';
import { AuditRepository } from './audit/audit.repository';
import { AuditService } from './audit/audit.service';
import { ConsoleActionsService } from './console-actions.service';
import { ConsoleController } from './console.controller';
import { SagaVersionsController } from './saga-versions.controller';

/**
 * The operator console's API: saga detail, audited actions (compensation, moves between saga
 * definition versions), the audit log.
 */
@Module({
  imports: [SagaModule, UsersModule, ItemsModule],
  controllers: [ConsoleController, SagaVersionsController],
  providers: [AuditRepository, AuditService, ConsoleActionsService],
})
export class ConsoleModule {}
