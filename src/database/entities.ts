import { AuditEntryEntity } from '../modules/console/audit/audit-entry.entity';
import { IntegrationEventEntity } from '../modules/events/integration-event.entity';
import { ItemEntity } from '../modules/items/item.entity';
import { TransactionLogEntity } from '../modules/logs/transaction-log.entity';
import { NotificationEntity } from '../modules/notifications/notification.entity';
import {
  OutboxEventEntity,
  OutboxPendingEntity,
} from '../modules/saga/choreography/outbox-event.entity';
import {
  RetentionRunEntity,
  SagaPurgedTotalsEntity,
} from '../modules/retention/retention.entities';
import { SagaSettingEntity } from '../modules/saga/runtime/saga-setting.entity';
import { SagaStateEntity } from '../modules/saga/core/saga-state.entity';
import { SagaStepResultEntity } from '../modules/saga/core/saga-step-result.entity';
import { UserInventoryEntity } from '../modules/users/user-inventory.entity';
import { UserEntity } from '../modules/users/user.entity';
import {
  WebhookAttemptEntity,
  WebhookDeliveryEntity,
  WebhookEndpointEntity,
} from '../modules/webhooks/webhook.entities';

export const ENTITIES = [
  UserEntity,
  ItemEntity,
  UserInventoryEntity,
  SagaStateEntity,
  SagaStepResultEntity,
  TransactionLogEntity,
  NotificationEntity,
  OutboxEventEntity,
  OutboxPendingEntity,
  SagaSettingEntity,
  SagaPurgedTotalsEntity,
  RetentionRunEntity,
  AuditEntryEntity,
  IntegrationEventEntity,
  WebhookEndpointEntity,
  WebhookDeliveryEntity,
  WebhookAttemptEntity,
];
