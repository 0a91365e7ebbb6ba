import { Module } from '@nestjs/common';
import { IntegrityController } from './integrity.controller';
import { IntegrityRepository } from './integrity.repository';
import { IntegrityScheduler } from './integrity.scheduler';
import { IntegrityService } from './integrity.service';

/** The reconciliation check; the schedule registry comes from ScheduleModule in the app module. */
@Module({
  controllers: [IntegrityController],
  providers: [IntegrityRepository, IntegrityService, IntegrityScheduler],
  exports: [IntegrityService],
})
export class IntegrityModule {}
