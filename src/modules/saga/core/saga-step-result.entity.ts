import {
  Check,
  Column,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { SagaStateEntity } from './saga-state.entity';

export type StepKind = 'forward' | 'compensation';
export type StepResultStatus = 'success' | 'failed';

/** One row per step run and per compensation run, in the order they happened. */
@Entity('saga_step_results')
@Check('chk_saga_step_results_kind', `"kind" IN ('forward', 'compensation')`)
@Check('chk_saga_step_results_status', `"status" IN ('success', 'failed')`)
@Index('idx_saga_step_results_tx', ['transactionId', 'id'])
// A step or compensation succeeds at most once per saga: a replay after a crash cannot apply twice.
@Index('uq_saga_step_results_success', ['transactionId', 'step', 'kind'], {
  unique: true,
  where: `"status" = 'success'`,
})
export class SagaStepResultEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64 })
  transactionId!: string;

  @Column({ type: 'varchar', length: 50 })
  step!: string;

  @Column({ type: 'varchar', length: 20 })
  kind!: StepKind;

  @Column({ type: 'varchar', length: 20 })
  status!: StepResultStatus;

  @Column({ type: 'jsonb', nullable: true })
  data!: Record<string, unknown> | null;

  @Column({ name: 'error_code', type: 'varchar', length: 50, nullable: true })
  errorCode!: string | null;

  @Column({ name: 'error_message', type: 'text', nullable: true })
  errorMessage!: string | null;

  @Column({ name: 'duration_ms', type: 'int', default: 0 })
  durationMs!: number;

  @Column({ name: 'executed_at', type: 'timestamptz', default: () => 'now()' })
  executedAt!: Date;

  @ManyToOne(() => SagaStateEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'transaction_id' })
  saga?: SagaStateEntity;
}
