import { Column, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** A setting every instance shares, such as the pattern of new purchases. */
@Entity('saga_settings')
export class SagaSettingEntity {
  @PrimaryColumn({ type: 'varchar', length: 50, primaryKeyConstraintName: 'PK_saga_settings_key' })
  key!: string;

  @Column({ type: 'varchar', length: 200 })
  value!: string;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
