import { Check, Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * What the sagas removed by retention added up to, per user and item: the reconciliation adds
 * these to what the remaining sagas sum to, so the books still balance after removal.
 */
@Entity('saga_purged_totals')
export class SagaPurgedTotalsEntity {
  @PrimaryColumn({
    name: 'user_id',
    type: 'varchar',
    length: 50,
    primaryKeyConstraintName: 'PK_saga_purged_totals',
  })
  userId!: string;

  @PrimaryColumn({
    name: 'item_id',
    type: 'varchar',
    length: 50,
    primaryKeyConstraintName: 'PK_saga_purged_totals',
  })
  itemId!: string;

  /** Every removed saga, whatever its outcome. */
  @Column({ type: 'bigint', default: 0 })
  sagas!: string;

  @Column({ name: 'completed_sagas', type: 'bigint', default: 0 })
  completedSagas!: string;

  /** What the removed completed sagas debited. */
  @Column({ name: 'completed_total', type: 'numeric', precision: 16, scale: 2, default: 0 })
  completedTotal!: string;

  /** What the removed completed sagas took from stock and granted. */
  @Column({ name: 'completed_quantity', type: 'bigint', default: 0 })
  completedQuantity!: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** The retention job's last run, whichever instance ran it (one row). */
@Entity('retention_runs')
@Check('chk_retention_runs_single', '"id" = 1')
export class RetentionRunEntity {
  @PrimaryColumn({ type: 'smallint', primaryKeyConstraintName: 'PK_retention_runs' })
  id!: number;

  @Column({ type: 'jsonb' })
  run!: unknown;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
