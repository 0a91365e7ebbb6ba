import {
  Check,
  Column,
  Entity,
  ForeignKey,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';
import { UserEntity } from './user.entity';

@Entity('user_inventory')
@Check('chk_user_inventory_quantity_non_negative', '"quantity" >= 0')
export class UserInventoryEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 50 })
  userId!: string;

  @PrimaryColumn({ name: 'item_id', type: 'varchar', length: 50 })
  // By table name: the items module's entity stays its own.
  @ForeignKey('items', { onDelete: 'RESTRICT' })
  itemId!: string;

  @Column({ type: 'int' })
  quantity!: number;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: UserEntity;
}
