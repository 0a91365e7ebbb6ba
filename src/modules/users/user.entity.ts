import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { UserStatus } from './user-status';

@Entity('users')
@Check('chk_users_balance_non_negative', '"balance" >= 0')
@Check('chk_users_purchase_limit_non_negative', '"purchase_limit" >= 0')
@Check('chk_users_credited_total_non_negative', '"credited_total" >= 0')
@Check('chk_users_status', `"status" IN ('active', 'suspended', 'closed')`)
export class UserEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 50 })
  userId!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 255, nullable: true })
  email!: string | null;

  /** numeric(12,2), read as a string to keep it exact */
  @Column({ type: 'numeric', precision: 12, scale: 2, default: 0 })
  balance!: string;

  /**
   * Everything credited from outside the saga: the starting balance plus admin top-ups (never
   * refunds). Conservation: credited_total = balance + totals of the completed sagas.
   */
  @Column({ name: 'credited_total', type: 'numeric', precision: 12, scale: 2, default: 0 })
  creditedTotal!: string;

  @Column({ type: 'varchar', length: 20, default: 'active' })
  status!: UserStatus;

  /** Highest total of one purchase; 0 means no limit. */
  @Column({ name: 'purchase_limit', type: 'numeric', precision: 12, scale: 2, default: 0 })
  purchaseLimit!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
