import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { SagaModule } from '../saga/saga.module';
import { WebhookDispatcher } from './webhook-dispatcher';
import { WebhooksController } from './webhooks.controller';
import { WebhooksRepository } from './webhooks.repository';
import { WebhooksService } from './webhooks.service';

/** Webhook endpoints (admin API) and the delivery of the integration events to them. */
@Module({
  imports: [SagaModule, NotificationsModule, EventsModule],
  controllers: [WebhooksController],
  providers: [WebhooksRepository, WebhookDispatcher, WebhooksService],
})
export class WebhooksModule {}
