import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A public integration event, written only while a sink is configured (IntegrationEvents
 * 1796400000000); the sinks read them as a stream, each from its own cursor.
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

  // `tx` (xid8, the transaction that wrote it; see EventStreams1796850000000) is not mapped:
  // TypeORM has no xid8 type. The sinks' streams read it by SQL (EventStream), and so is
  // `relay_cursors`, the broker relay's cursor.
}
