import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  ForeignKey,
  Index,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';

export type TransactionLogStatus = 'completed' | 'compensated';

@Entity('transaction_logs')
@Check('chk_transaction_logs_status', `"status" IN ('completed', 'compensated')`)
@Index('idx_transaction_logs_user_created', ['userId', 'createdAt'])
export class TransactionLogEntity {
  @PrimaryColumn({ name: 'log_id', type: 'varchar', length: 64 })
  logId!: string;

  /** One log per saga. */
  @Column({ name: 'transaction_id', type: 'varchar', length: 64, unique: true })
  // By table name: the saga module depends on this one, not the reverse.
  @ForeignKey('saga_states', { onDelete: 'RESTRICT' })
  transactionId!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 50 })
  userId!: string;

  @Column({ name: 'item_id', type: 'varchar', length: 50 })
  itemId!: string;

  @Column({ type: 'int' })
  quantity!: number;

  @Column({ type: 'numeric', precision: 12, scale: 2 })
  price!: string;

  @Column({ type: 'varchar', length: 20 })
  status!: TransactionLogStatus;

  @Column({ name: 'log_data', type: 'jsonb', nullable: true })
  logData!: Record<string, unknown> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
