import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CacheModule } from '../cache/cache.module';
import { EventsModule } from '../events/events.module';
import { SagaModule } from '../saga/saga.module';
import { DbMetricsController } from './db-monitor/db-metrics.controller';
import { DbMonitorRepository } from './db-monitor/db-monitor.repository';
import { DbMonitorService } from './db-monitor/db-monitor.service';
import { HealthController } from './health.controller';
import { HttpMetrics } from './metrics/http-metrics';
import { MetricsController } from './metrics/metrics.controller';
import { OverviewController } from './metrics/overview.controller';
import { PoolMetrics } from './metrics/pool-metrics';
import { SagaOverviewSampler } from './metrics/saga-overview';
import { SagaMetrics } from './metrics/saga-metrics';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), CacheModule, EventsModule, SagaModule],
  controllers: [HealthController, MetricsController, DbMetricsController, OverviewController],
  providers: [
    SagaMetrics,
    HttpMetrics,
    PoolMetrics,
    DbMonitorRepository,
    DbMonitorService,
    SagaOverviewSampler,
  ],
  exports: [SagaMetrics],
})
export class MonitoringModule {}
