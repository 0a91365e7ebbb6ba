import { Module } from '@nestjs/common';
import { SagaCoreModule } from '../core/saga-core.module';
import { SagaReadModelModule } from '../read-model/saga-read-model.module';
import { ChoreographyController } from './choreography.controller';
import { ChoreographyEngine } from './choreography.engine';
import { OutboxDispatcher } from './outbox-dispatcher';
import { OutboxRepository } from './outbox.repository';
import {
  ItemParticipant,
  LogParticipant,
  NotificationParticipant,
  UserParticipant,
} from './participants';

/** The choreography pattern: participants reacting to events, through a transactional outbox. */
@Module({
  imports: [SagaCoreModule, SagaReadModelModule],
  controllers: [ChoreographyController],
  providers: [
    OutboxRepository,
    OutboxDispatcher,
    ChoreographyEngine,
    UserParticipant,
    ItemParticipant,
    LogParticipant,
    NotificationParticipant,
  ],
  exports: [ChoreographyEngine, OutboxRepository],
})
export class ChoreographyModule {}
