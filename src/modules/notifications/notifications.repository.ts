import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';
import type { NotificationStatus } from './notification.entity';

export interface NotificationRow {
  notification_id: string;
  transaction_id: string;
  user_id: string;
  type: string;
  message: string;
  channels: string[];
  status: NotificationStatus;
  attempts: number;
  error: string | null;
  sent_at: Date | null;
  created_at: Date;
}

@Injectable()
export class NotificationsRepository {
  constructor(private readonly tx: TransactionHost) {}

  /** One notification of a type per saga: a replay updates the existing row. */
  upsert(notification: {
    notificationId: string;
    transactionId: string;
    userId: string;
    type: string;
    message: string;
    channels: string[];
    status: NotificationStatus;
    attempts: number;
    error: string | null;
  }): Promise<NotificationRow | undefined> {
    return this.tx.one<NotificationRow>(
      `INSERT INTO notifications (notification_id, transaction_id, user_id, type, message, channels, status, attempts, error, sent_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7::varchar, $8, $9, CASE WHEN $7::varchar = 'sent' THEN now() END)
       ON CONFLICT (transaction_id, type) DO UPDATE
         SET status = EXCLUDED.status, attempts = notifications.attempts + EXCLUDED.attempts,
             error = EXCLUDED.error, sent_at = EXCLUDED.sent_at
       RETURNING *`,
      [
        notification.notificationId,
        notification.transactionId,
        notification.userId,
        notification.type,
        notification.message,
        JSON.stringify(notification.channels),
        notification.status,
        notification.attempts,
        notification.error,
      ],
    );
  }
}
