import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks read the integration events as a stream, each endpoint from its own cursor, instead
 * of marking every event fanned out (`webhooks_at`) and writing a delivery row before the first
 * attempt. An event records the transaction that wrote it (`tx`); a reader takes only events of
 * transactions older than every one still running (the snapshot's xmin), in (tx, seq) order, so
 * that an event committed late is never passed over by a cursor already beyond its seq.
 *
 * The events the old fan-out had not taken yet get this transaction's id: the endpoints' cursors
 * start before it, so they are streamed once the migration commits. Older events keep a null
 * `tx` and are never streamed again.
 */
export class WebhookStreams1796850000000 implements MigrationInterface {
  name = 'WebhookStreams1796850000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "integration_events" ADD "tx" xid8`);
    await queryRunner.query(
      `UPDATE "integration_events" SET "tx" = pg_current_xact_id() WHERE "webhooks_at" IS NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "integration_events" ALTER COLUMN "tx" SET DEFAULT pg_current_xact_id()`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_stream" ON "integration_events" ("tx", "seq")`,
    );
    await queryRunner.query(`DROP INDEX "idx_integration_events_webhooks_pending"`);
    await queryRunner.query(`ALTER TABLE "integration_events" DROP COLUMN "webhooks_at"`);
    // Each endpoint's cursor: the last event its stream took, and which instance reads it.
    await queryRunner.query(
      `ALTER TABLE "webhook_endpoints"
         ADD "stream_tx" xid8 NOT NULL DEFAULT '0',
         ADD "stream_seq" bigint NOT NULL DEFAULT 0,
         ADD "stream_owner" character varying(100),
         ADD "stream_expires_at" TIMESTAMP WITH TIME ZONE`,
    );
    // The notifications waiting for a channel: those no webhook will deliver are found here.
    await queryRunner.query(
      `CREATE INDEX "idx_notifications_pending" ON "notifications" ("transaction_id") WHERE "status" = 'pending'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_notifications_pending"`);
    await queryRunner.query(
      `ALTER TABLE "integration_events" ADD "webhooks_at" TIMESTAMP WITH TIME ZONE`,
    );
    // What no cursor had reached is handed back to the fan-out; the rest counts as taken.
    await queryRunner.query(
      `UPDATE "integration_events" i SET "webhooks_at" = now()
       WHERE i."tx" IS NULL OR NOT EXISTS (
         SELECT 1 FROM "webhook_endpoints" w
         WHERE w."enabled" AND (i."tx", i."seq") > (w."stream_tx", w."stream_seq"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_webhooks_pending" ON "integration_events" ("seq") WHERE "webhooks_at" IS NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "webhook_endpoints"
         DROP COLUMN "stream_expires_at",
         DROP COLUMN "stream_owner",
         DROP COLUMN "stream_seq",
         DROP COLUMN "stream_tx"`,
    );
    await queryRunner.query(`DROP INDEX "idx_integration_events_stream"`);
    await queryRunner.query(`ALTER TABLE "integration_events" DROP COLUMN "tx"`);
  }
}
