import { Module } from '@nestjs/common';
import { SagaCoreModule } from '../core/saga-core.module';
import { Orchestrator } from './orchestrator';

/** The orchestration pattern: one driver per saga. */
@Module({
  imports: [SagaCoreModule],
  providers: [Orchestrator],
  exports: [Orchestrator],
})
export class OrchestrationModule {}
