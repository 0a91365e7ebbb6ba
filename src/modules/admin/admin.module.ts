import { Module } from '@nestjs/common';
import { ItemsModule } from '../items/items.module';
import { UsersModule } from '../users/users.module';
import { UpkeepController } from './upkeep.controller';

@Module({
  imports: [UsersModule, ItemsModule],
  controllers: [UpkeepController],
})
export class AdminModule {}
