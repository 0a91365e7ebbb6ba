import { Check, Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type AuditOutcome = 'succeeded' | 'failed' | 'refused';

/**
 * One action an operator took (or tried): who (the admin token's name, never the token), when,
 * what, on which saga, why, and how it went. Rows are only ever added.
 */
@Entity('admin_audit_log')
@Check('chk_admin_audit_log_outcome', `"outcome" IN ('succeeded', 'failed', 'refused')`)
@Index('idx_admin_audit_log_tx', ['transactionId', 'id'])
export class AuditEntryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint', primaryKeyConstraintName: 'PK_admin_audit_log' })
  id!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;

  @Column({ type: 'varchar', length: 50 })
  actor!: string;

  @Column({ type: 'varchar', length: 30 })
  action!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 100, nullable: true })
  transactionId!: string | null;

  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'varchar', length: 20 })
  outcome!: AuditOutcome;

  @Column({ name: 'error_code', type: 'varchar', length: 50, nullable: true })
  errorCode!: string | null;

  @Column({ type: 'text', nullable: true })
  detail!: string | null;
}
