import { Module } from '@nestjs/common';
import { NotificationsRepository } from './notifications.repository';
import { NotificationsService } from './notifications.service';
import { SimulatedNotificationFailure } from './simulated-failure';

@Module({
  providers: [SimulatedNotificationFailure, NotificationsRepository, NotificationsService],
  exports: [NotificationsService],
})
export class NotificationsModule {}
