import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The public integration events (purchase.completed, …), written in the transaction of the saga
 * change that causes them while a sink (NATS) is configured, and relayed from here. `seq` orders
 * a saga's events; `id` is the event's identity outside (the broker's de-duplication key).
 * The partial indexes hold only what still waits to be published, so the relay's claims and the
 * backlog figures stay small whatever the table's size.
 */
export class IntegrationEvents1796400000000 implements MigrationInterface {
  name = 'IntegrationEvents1796400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "integration_events" ("seq" BIGSERIAL NOT NULL, "id" uuid NOT NULL DEFAULT gen_random_uuid(), "type" character varying(40) NOT NULL, "transaction_id" character varying(64) NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "data" jsonb NOT NULL, "trace_parent" character varying(55), "published_at" TIMESTAMP WITH TIME ZONE, "lease_owner" character varying(100), "lease_expires_at" TIMESTAMP WITH TIME ZONE, "attempts" integer NOT NULL DEFAULT '0', CONSTRAINT "PK_integration_events" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_unpublished" ON "integration_events" ("seq") WHERE "published_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_saga_unpublished" ON "integration_events" ("transaction_id", "seq") WHERE "published_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_transaction" ON "integration_events" ("transaction_id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "integration_events"`);
  }
}
