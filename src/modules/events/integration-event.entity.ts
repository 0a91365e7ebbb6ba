import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A public integration event waiting to be relayed to the sinks, or relayed (`published_at`).
 * Written only while a sink is configured; see IntegrationEvents1796400000000.
 */
@Entity('integration_events')
@Index('idx_integration_events_transaction', ['transactionId'])
export class IntegrationEventEntity {
  /** Order of writing: a saga's events go out in this order. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  seq!: string;

  @Column({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id!: string;

  @Column({ type: 'varchar', length: 40 })
  type!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64 })
  transactionId!: string;

  @Column({ name: 'occurred_at', type: 'timestamptz', default: () => 'now()' })
  occurredAt!: Date;

  @Column({ type: 'jsonb' })
  data!: Record<string, unknown>;

  @Column({ name: 'trace_parent', type: 'varchar', length: 55, nullable: true })
  traceParent!: string | null;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;

  // `tx` (xid8, the transaction that wrote it; see WebhookStreams1796850000000) is not mapped:
  // TypeORM has no xid8 type. The webhooks' streams read it by SQL.

  @Column({ name: 'lease_owner', type: 'varchar', length: 100, nullable: true })
  leaseOwner!: string | null;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt!: Date | null;

  @Column({ type: 'int', default: 0 })
  attempts!: number;
}
