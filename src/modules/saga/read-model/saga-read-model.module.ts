import { Module } from '@nestjs/common';
import { CacheModule } from '../../cache/cache.module';
import { SagaCoreModule } from '../core/saga-core.module';
import { SagaReportsRepository } from './saga-reports.repository';
import { SagaReportsService } from './saga-reports.service';
import { SagaRollupsJob } from './saga-rollups.job';
import { SagaRollupsRepository } from './saga-rollups.repository';
import { SagaViewCache } from './saga-view.cache';
import { SagaController } from './saga.controller';
import { SagaService } from './saga.service';

/** What is read about sagas: their views (through the cache), statistics and listings. */
@Module({
  imports: [SagaCoreModule, CacheModule],
  controllers: [SagaController],
  providers: [
    SagaViewCache,
    SagaService,
    SagaReportsRepository,
    SagaReportsService,
    SagaRollupsRepository,
    SagaRollupsJob,
  ],
  exports: [SagaViewCache, SagaService, SagaReportsService, SagaRollupsJob],
})
export class SagaReadModelModule {}
