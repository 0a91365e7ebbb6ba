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

  /**
   * Records notifications (one per transaction and type, in one statement): a repeat updates
   * the existing row. Answers the rows in the order given.
   */
  upsertMany(
    notifications: readonly {
      notificationId: string;
      transactionId: string;
      userId: string;
      type: string;
      message: string;
      channels: string[];
      status: NotificationStatus;
      attempts: number;
      error: string | null;
    }[],
  ): Promise<NotificationRow[]> {
    return this.tx.query<NotificationRow>(
      `WITH req AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(ord int, notification_id varchar,
           transaction_id varchar, user_id varchar, type varchar, message text, channels jsonb,
           status varchar, attempts int, error text)
       ),
       written AS (
         INSERT INTO notifications (notification_id, transaction_id, user_id, type, message, channels, status, attempts, error, sent_at)
         SELECT notification_id, transaction_id, user_id, type, message, channels, status, attempts,
                error, CASE WHEN status = 'sent' THEN now() END
         FROM req ORDER BY transaction_id, type
         ON CONFLICT (transaction_id, type) DO UPDATE
           SET status = EXCLUDED.status, attempts = notifications.attempts + EXCLUDED.attempts,
               error = EXCLUDED.error, sent_at = EXCLUDED.sent_at
         RETURNING *
       )
       SELECT w.* FROM req JOIN written w ON w.transaction_id = req.transaction_id AND w.type = req.type
       ORDER BY req.ord`,
      [
        JSON.stringify(
          notifications.map((n, ord) => ({
            ord,
            notification_id: n.notificationId,
            transaction_id: n.transactionId,
            user_id: n.userId,
            type: n.type,
            message: n.message,
            channels: n.channels,
            status: n.status,
            attempts: n.attempts,
            error: n.error,
          })),
        ),
      ],
    );
  }
}
