import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import type { SagaPattern } from '../../../config/configuration';
import type { SagaStatus } from './saga';

@Entity('saga_states')
@Check(
  'chk_saga_states_status',
  `"status" IN ('pending', 'in_progress', 'completed', 'compensating', 'compensated', 'failed')`,
)
@Check('chk_saga_states_pattern', `"pattern" IN ('orchestration', 'choreography')`)
@Check('chk_saga_states_quantity_positive', '"quantity" > 0')
@Index('idx_saga_states_user_created', ['userId', 'createdAt'])
@Index('idx_saga_states_created_at', ['createdAt'])
@Index('idx_saga_states_status_created', ['status', 'createdAt'])
@Index('idx_saga_states_pattern_created', ['pattern', 'createdAt'])
// Open sagas (recovery, stuck-saga counts); the lease itself is not indexed: every step renews it.
@Index('idx_saga_states_open', ['createdAt'], {
  where: `"status" IN ('pending', 'in_progress', 'compensating')`,
})
@Index('idx_saga_states_pattern_status', ['pattern', 'status'])
@Index('idx_saga_states_completed_at', ['completedAt'], { where: '"completed_at" IS NOT NULL' })
@Index('idx_saga_states_failed_at', ['failedAt'], { where: '"failed_at" IS NOT NULL' })
// The sagas still holding an Idempotency-Key, for the retention job that frees them.
@Index('idx_saga_states_keyed_created', ['createdAt'], { where: '"idempotency_key" IS NOT NULL' })
@Index('idx_saga_states_compensation_failed', ['createdAt'], {
  where: `"status" = 'failed' AND "error_code" = 'COMPENSATION_FAILED'`,
})
export class SagaStateEntity {
  @PrimaryColumn({ name: 'transaction_id', type: 'varchar', length: 64 })
  transactionId!: string;

  @Column({ type: 'varchar', length: 20 })
  pattern!: SagaPattern;

  @Column({ type: 'varchar', length: 20 })
  status!: SagaStatus;

  @Column({ name: 'current_step', type: 'varchar', length: 50, nullable: true })
  currentStep!: string | null;

  @Column({ name: 'user_id', type: 'varchar', length: 50 })
  userId!: string;

  @Column({ name: 'item_id', type: 'varchar', length: 50 })
  itemId!: string;

  @Column({ type: 'int' })
  quantity!: number;

  /** Total charged: catalogue price x quantity, fixed when the saga starts. */
  @Column({ type: 'numeric', precision: 12, scale: 2, nullable: true })
  price!: string | null;

  @Column({ name: 'idempotency_key', type: 'varchar', length: 255, nullable: true, unique: true })
  idempotencyKey!: string | null;

  @Column({ name: 'request_hash', type: 'varchar', length: 64, nullable: true })
  requestHash!: string | null;

  @Column({ name: 'error_step', type: 'varchar', length: 50, nullable: true })
  errorStep!: string | null;

  @Column({ name: 'error_code', type: 'varchar', length: 50, nullable: true })
  errorCode!: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage!: string | null;

  /** Bumped by every transition: a writer holding an older version is refused (fencing). */
  @Column({ type: 'int', default: 0 })
  version!: number;

  @Column({ name: 'lease_owner', type: 'varchar', length: 100, nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;

  @Column({ name: 'failed_at', type: 'timestamptz', nullable: true })
  failedAt!: Date | null;

  /** The trace the saga belongs to (W3C traceparent), when it was recorded with tracing on. */
  @Column({ name: 'trace_parent', type: 'varchar', length: 55, nullable: true })
  traceParent!: string | null;

  /** The definition the saga runs (name, version, hash of its steps): it keeps it to the end. */
  @Column({ name: 'definition_name', type: 'varchar', length: 50, default: 'purchase' })
  definitionName!: string;

  @Column({ name: 'definition_version', type: 'int', default: 1 })
  definitionVersion!: number;

  @Column({ name: 'definition_hash', type: 'char', length: 64 })
  definitionHash!: string;
}
