import { Injectable } from '@nestjs/common';
import type { SagaPattern } from '../../config/configuration';
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
  delivered_at: Date | null;
  created_at: Date;
}

/** A saga whose notification's delivery state changed: its row version, the new revision. */
export interface DeliveryChange {
  transactionId: string;
  pattern: SagaPattern;
  version: number;
  /** The notification's revision after the change (each delivery change adds one). */
  revision: number;
}

/**
 * A notification's delivery state moves and its revision with it; its saga's row is only read
 * (for the cache, which versions the saga's view by both).
 */
function movingDelivery(update: string): string {
  return `WITH changed AS (
         ${update}
         RETURNING transaction_id, revision
       )
       SELECT s.transaction_id, s.pattern, s.version, c.revision
       FROM changed c JOIN saga_states s ON s.transaction_id = c.transaction_id
       ORDER BY s.transaction_id`;
}

const DELIVERED = movingDelivery(
  `UPDATE notifications SET status = 'delivered', delivered_at = now(), error = NULL,
           revision = revision + 1
         WHERE notification_id = ANY($1::varchar[]) AND status <> 'delivered'`,
);

// Only a pending one fails: a delivered one never goes back, and a failed one keeps its reason.
const FAILED = movingDelivery(
  `UPDATE notifications SET status = 'failed', error = $2, revision = revision + 1
         WHERE notification_id = ANY($1::varchar[]) AND status = 'pending'`,
);

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
         INSERT INTO notifications (notification_id, transaction_id, user_id, type, message, channels, status, attempts, error)
         SELECT notification_id, transaction_id, user_id, type, message, channels, status, attempts,
                error
         FROM req ORDER BY transaction_id, type
         ON CONFLICT (transaction_id, type) DO UPDATE
           -- A delivered one stays so.
           SET status = CASE WHEN notifications.status = 'delivered' THEN 'delivered'
                             ELSE EXCLUDED.status END,
               attempts = notifications.attempts + EXCLUDED.attempts,
               error = CASE WHEN notifications.status = 'delivered' THEN NULL
                            ELSE EXCLUDED.error END
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

  /** Marks notifications delivered (those not already), in one statement. */
  markDelivered(notificationIds: readonly string[]): Promise<DeliveryChange[]> {
    return this.moved(DELIVERED, [notificationIds]);
  }

  /** Marks pending notifications failed with `error`, in one statement. */
  markFailed(notificationIds: readonly string[], error: string): Promise<DeliveryChange[]> {
    return this.moved(FAILED, [notificationIds, error]);
  }

  private async moved(sql: string, params: unknown[]): Promise<DeliveryChange[]> {
    const rows = await this.tx.query<{
      transaction_id: string;
      pattern: SagaPattern;
      version: number;
      revision: number;
    }>(sql, params);
    return rows.map((row) => ({
      transactionId: row.transaction_id,
      pattern: row.pattern,
      version: row.version,
      revision: row.revision,
    }));
  }
}
