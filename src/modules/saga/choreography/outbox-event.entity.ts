import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
} from 'typeorm';

/**
 * Events written in the same transaction as the state change that raised them. An event row is
 * never updated: what changes while it waits to be published lives in `outbox_pending`.
 */
@Entity('outbox_events')
@Index('idx_outbox_events_aggregate', ['aggregateId'])
export class OutboxEventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'event_id', type: 'uuid', unique: true })
  eventId!: string;

  @Column({ name: 'event_type', type: 'varchar', length: 60 })
  eventType!: string;

  /** The saga's transaction id. */
  @Column({ name: 'aggregate_id', type: 'varchar', length: 64 })
  aggregateId!: string;

  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/**
 * Events not yet published, written by one statement: their ids, lease and attempts. Publishing
 * all of them deletes the row, so acknowledging a write's events costs one narrow delete, not a
 * rewrite of each event and its payload. The row's id is its first event's.
 */
@Entity('outbox_pending')
@Check('chk_outbox_pending_event_ids', 'cardinality("event_ids") > 0')
export class OutboxPendingEntity {
  @PrimaryColumn({ type: 'bigint', primaryKeyConstraintName: 'PK_outbox_pending' })
  id!: string;

  @Column({ name: 'event_ids', type: 'bigint', array: true })
  eventIds!: string[];

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'available_at', type: 'timestamptz', default: () => 'now()' })
  availableAt!: Date;

  @Column({ name: 'lease_owner', type: 'varchar', length: 100, nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;
}
