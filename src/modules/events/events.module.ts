import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AppConfig } from '../../config/configuration';
import { NotificationsModule } from '../notifications/notifications.module';
import { SagaModule } from '../saga/saga.module';
import { EventRelay } from './event-relay';
import { EVENT_SINKS, type EventSink } from './event-sink';
import { EventStream } from './event-stream';
import { IntegrationEventsRepository } from './integration-events.repository';
import { NatsSink } from './nats-sink';
import { RelayController } from './relay.controller';

/** The integration events' relay to the configured sinks (none: nothing is written or relayed). */
@Module({
  imports: [SagaModule, NotificationsModule],
  controllers: [RelayController],
  providers: [
    IntegrationEventsRepository,
    EventStream,
    EventRelay,
    {
      provide: EVENT_SINKS,
      useFactory: (config: ConfigService<AppConfig, true>): EventSink[] => {
        const { nats } = config.get('events', { infer: true });
        return nats === undefined ? [] : [new NatsSink(nats)];
      },
      inject: [ConfigService],
    },
  ],
  exports: [EventRelay, EventStream],
})
export class EventsModule {}
