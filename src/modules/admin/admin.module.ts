import { Module } from '@nestjs/common';
import { ItemsModule } from '../items/items.module';
import { RetentionModule } from '../retention/retention.module';
import { SagaModule } from '../saga/saga.module';
import { UsersModule } from '../users/users.module';
import { SagasAdminController } from './sagas-admin.controller';
import { UpkeepController } from './upkeep.controller';

@Module({
  imports: [UsersModule, ItemsModule, SagaModule, RetentionModule],
  controllers: [UpkeepController, SagasAdminController],
})
export class AdminModule {}
