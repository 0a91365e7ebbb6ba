import { Module } from '@nestjs/common';
import { NotificationSender } from './notification-sender';
import { NotificationsRepository } from './notifications.repository';
import { NotificationsService } from './notifications.service';

@Module({
  providers: [NotificationSender, NotificationsRepository, NotificationsService],
  exports: [NotificationsService],
})
export class NotificationsModule {}
