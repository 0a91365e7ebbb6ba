import { Check, Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';

/** Delivery to the outside: `pending` until handed to a channel (`delivered`) or given up (`failed`). */
export type NotificationStatus = 'pending' | 'delivered' | 'failed';

@Entity('notifications')
@Check('chk_notifications_status', `"status" IN ('pending', 'delivered', 'failed')`)
@Index('idx_notifications_user_status', ['userId', 'status'])
@Index('uq_notifications_transaction_type', ['transactionId', 'type'], { unique: true })
export class NotificationEntity {
  @PrimaryColumn({ name: 'notification_id', type: 'varchar', length: 64 })
  notificationId!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64 })
  // By table name: the saga module depends on this one, not the reverse.
  @ForeignKey('saga_states', { onDelete: 'RESTRICT' })
  transactionId!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 50 })
  userId!: string;

  @Column({ type: 'varchar', length: 50 })
  type!: string;

  @Column({ type: 'text' })
  message!: string;

  /** The channels configured when it was recorded (`jetstream`, `webhooks`). */
  @Column({ type: 'jsonb' })
  channels!: string[];

  @Column({ type: 'varchar', length: 20 })
  status!: NotificationStatus;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  /** When a channel first took it (JetStream acknowledged it, or a webhook answered 2xx). */
  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true })
  deliveredAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
