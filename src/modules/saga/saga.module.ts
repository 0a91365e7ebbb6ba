import { Module } from '@nestjs/common';
import { ItemsModule } from '../items/items.module';
import { ChoreographyEngine } from './choreography/choreography.engine';
import { ChoreographyModule } from './choreography/choreography.module';
import { SAGA_ENGINES, type SagaEngine } from './core/saga-engine';
import { SagaCoreModule } from './core/saga-core.module';
import { OrchestrationModule } from './orchestration/orchestration.module';
import { Orchestrator } from './orchestration/orchestrator';
import { SagaReadModelModule } from './read-model/saga-read-model.module';
import { CompensationController } from './runtime/compensation.controller';
import { PatternControl } from './runtime/pattern-control';
import { PatternController } from './runtime/pattern.controller';
import { PurchaseController } from './runtime/purchase.controller';
import { PurchaseService } from './runtime/purchase.service';
import { SagaAdmin } from './runtime/saga-admin';
import { SagaEngines } from './runtime/saga-engines';
import { SagaRecovery } from './runtime/saga-recovery';
import { SagaSettingsRepository } from './runtime/saga-settings.repository';
import { SagaVersionMoves } from './runtime/saga-version-moves';

/**
 * The purchase saga: its core, the two patterns' engines and the read model, put to work here —
 * purchases recorded and handed to their pattern's engine, recovery, an admin's compensation
 * and moves between definition versions, and the choice of pattern.
 */
@Module({
  imports: [
    SagaCoreModule,
    OrchestrationModule,
    ChoreographyModule,
    SagaReadModelModule,
    ItemsModule,
  ],
  controllers: [PurchaseController, PatternController, CompensationController],
  providers: [
    {
      provide: SAGA_ENGINES,
      useFactory: (...engines: SagaEngine[]) => engines,
      inject: [Orchestrator, ChoreographyEngine],
    },
    SagaEngines,
    PurchaseService,
    SagaRecovery,
    SagaAdmin,
    SagaVersionMoves,
    SagaSettingsRepository,
    PatternControl,
  ],
  exports: [SagaCoreModule, SagaReadModelModule, PatternControl, SagaAdmin, SagaVersionMoves],
})
export class SagaModule {}
