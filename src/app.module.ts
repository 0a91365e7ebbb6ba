import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { APP_FILTER } from '@nestjs/core';
import { LoggerModule } from 'nestjs-pino';
import { hostname } from 'node:os';
import { AllExceptionsFilter } from './common/http/all-exceptions.filter';
import { traceLogFields } from './common/tracing/log-trace';
import { tracingStarted } from './common/tracing/tracer';
import type { AppConfig } from './config/configuration';
import { DatabaseModule } from './database/database.module';
import { AdminModule } from './modules/admin/admin.module';
import { ConsoleModule } from './modules/console/console.module';
import { IntegrityModule } from './modules/integrity/integrity.module';
import { ItemsModule } from './modules/items/items.module';
import { LogsModule } from './modules/logs/logs.module';
import { MonitoringModule } from './modules/monitoring/monitoring.module';
import { RateLimitModule } from './modules/rate-limit/rate-limit.module';
import { EventsModule } from './modules/events/events.module';
import { WebhooksModule } from './modules/webhooks/webhooks.module';
import { RetentionModule } from './modules/retention/retention.module';
import { SagaModule } from './modules/saga/saga.module';
import { UsersModule } from './modules/users/users.module';

@Module({})
export class AppModule {
  /** The whole application for a validated configuration (whose database URL is resolved). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [() => config] }),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            base: { pid: process.pid, hostname: hostname(), service: 'purchase-saga' },
            // With tracing on, a line written inside a span names it (trace_id, span_id).
            ...(tracingStarted() ? { mixin: traceLogFields } : {}),
          },
          // No middleware: requests are logged by a Fastify hook (see logRequests), which costs
          // nothing when the level leaves them out.
          forRoutes: [],
        }),
        EventEmitterModule.forRoot({ wildcard: false, maxListeners: 50 }),
        // Registered once, here: every module's jobs share its registry.
        ScheduleModule.forRoot(),
        DatabaseModule,
        RateLimitModule.forRoot(config),
        UsersModule,
        ItemsModule,
        LogsModule,
        SagaModule,
        AdminModule,
        MonitoringModule,
        IntegrityModule,
        RetentionModule,
        EventsModule,
        WebhooksModule,
        ConsoleModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: AllExceptionsFilter }],
    };
  }
}
