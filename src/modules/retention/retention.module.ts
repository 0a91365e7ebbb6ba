import { Module } from '@nestjs/common';
import { SagaModule } from '../saga/saga.module';
import { RetentionRepository } from './retention.repository';
import { RetentionScheduler } from './retention.scheduler';
import { RetentionService } from './retention.service';

/** The retention policy: old data removed on a schedule (see RetentionService). */
@Module({
  imports: [SagaModule],
  providers: [RetentionRepository, RetentionService, RetentionScheduler],
  exports: [RetentionService],
})
export class RetentionModule {}
