import { Check, Column, CreateDateColumn, Entity, ForeignKey, Index, PrimaryColumn } from 'typeorm';

export type NotificationStatus = 'pending' | 'sent' | 'failed';

@Entity('notifications')
@Check('chk_notifications_status', `"status" IN ('pending', 'sent', 'failed')`)
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

  @Column({ type: 'jsonb' })
  channels!: string[];

  @Column({ type: 'varchar', length: 20 })
  status!: NotificationStatus;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ name: 'sent_at', type: 'timestamptz', nullable: true })
  sentAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
