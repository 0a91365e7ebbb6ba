import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhook endpoints, their deliveries and each delivery's attempts. Webhooks keep their own
 * progress over the integration events (`webhooks_at`, set once an event is fanned out into
 * deliveries), apart from the broker relay's `published_at`, so that neither holds the other
 * back. A delivery copies the event's body: it outlives the event's row and is re-sent as is.
 */
export class Webhooks1796500000000 implements MigrationInterface {
  name = 'Webhooks1796500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "integration_events" ADD COLUMN "webhooks_at" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_webhooks_pending" ON "integration_events" ("seq") WHERE "webhooks_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_endpoints" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "url" character varying(2048) NOT NULL, "events" text[] NOT NULL, "description" character varying(500), "secret" character varying(100) NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "disabled_reason" character varying(200), "consecutive_failures" integer NOT NULL DEFAULT 0, "failing_since" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_webhook_endpoints" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_deliveries" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "endpoint_id" uuid NOT NULL, "event_id" uuid NOT NULL, "event_type" character varying(40) NOT NULL, "payload" jsonb NOT NULL, "trace_parent" character varying(55), "status" character varying(16) NOT NULL DEFAULT 'pending', "attempts" integer NOT NULL DEFAULT 0, "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "lease_owner" character varying(100), "lease_expires_at" TIMESTAMP WITH TIME ZONE, "last_status_code" integer, "last_error" character varying(300), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_webhook_deliveries" PRIMARY KEY ("id"), CONSTRAINT "UQ_webhook_deliveries_event" UNIQUE ("endpoint_id", "event_id"), CONSTRAINT "CHK_webhook_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed')), CONSTRAINT "FK_webhook_deliveries_endpoint" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_due" ON "webhook_deliveries" ("endpoint_id", "next_attempt_at") WHERE "status" = 'pending'`,
    );
    // The deliveries in flight, counted per endpoint at every claim: a handful, whatever waits.
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_leased" ON "webhook_deliveries" ("endpoint_id") WHERE "status" = 'pending' AND "lease_expires_at" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_listed" ON "webhook_deliveries" ("endpoint_id", "created_at")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_finished" ON "webhook_deliveries" ("finished_at") WHERE "status" = 'delivered'`,
    );
    await queryRunner.query(
      `CREATE TABLE "webhook_attempts" ("id" BIGSERIAL NOT NULL, "delivery_id" uuid NOT NULL, "attempted_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "status_code" integer, "latency_ms" integer NOT NULL, "response_excerpt" character varying(1024), "error" character varying(300), CONSTRAINT "PK_webhook_attempts" PRIMARY KEY ("id"), CONSTRAINT "FK_webhook_attempts_delivery" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE)`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_attempts_delivery" ON "webhook_attempts" ("delivery_id", "id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "webhook_attempts"`);
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP TABLE "webhook_endpoints"`);
    await queryRunner.query(`DROP INDEX "idx_integration_events_webhooks_pending"`);
    await queryRunner.query(`ALTER TABLE "integration_events" DROP COLUMN "webhooks_at"`);
  }
}
