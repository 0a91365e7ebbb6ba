import { Check, Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

@Entity('items')
@Check('chk_items_stock_non_negative', '"stock" >= 0')
@Check('chk_items_price_non_negative', '"price" >= 0')
@Check('chk_items_stocked_total_non_negative', '"stocked_total" >= 0')
export class ItemEntity {
  @PrimaryColumn({ name: 'item_id', type: 'varchar', length: 50 })
  itemId!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  /** numeric(12,2), read as a string to keep it exact */
  @Column({ type: 'numeric', precision: 12, scale: 2 })
  price!: string;

  @Column({ type: 'int', default: 0 })
  stock!: number;

  /**
   * Every unit put into stock: the starting stock plus restocks (never released reservations).
   * Conservation: stocked_total = stock + quantities of the completed sagas.
   */
  @Column({ name: 'stocked_total', type: 'int', default: 0 })
  stockedTotal!: number;

  @Column({ name: 'is_available', type: 'boolean', default: true })
  isAvailable!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
