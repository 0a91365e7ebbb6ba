import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The sinks read the integration events as a stream, each from its own cursor, instead of
 * marking every event (`published_at` and a lease per event for the broker, `webhooks_at` for the
 * webhooks' fan-out). An event records the transaction that wrote it (`tx`); a reader takes only
 * events of transactions older than every one still running (the snapshot's xmin), in (tx, seq)
 * order, so that an event committed late is never passed over by a cursor already beyond its
 * seq. The broker's cursor is a row of `relay_cursors` (one instance holds it at a time, under a
 * lease); each webhook endpoint's is on its row.
 *
 * The events some sink had not taken yet get this transaction's id; the broker's cursor starts
 * just before the first it had not published (those after it that it had are sent again: the
 * stream drops them as duplicates within its window), the endpoints' cursors before them all.
 * Older events keep a null `tx` and are never streamed again.
 *
 * A notification's delivery state changes (pending → delivered / failed) count on its own row
 * (`revision`) instead of bumping its saga's row version: the saga's cached view is versioned by
 * both (SagaViewCache).
 */
export class EventStreams1796850000000 implements MigrationInterface {
  name = 'EventStreams1796850000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "integration_events" ADD "tx" xid8`);
    await queryRunner.query(
      `UPDATE "integration_events" SET "tx" = pg_current_xact_id()
       WHERE "webhooks_at" IS NULL OR "published_at" IS NULL`,
    );
    await queryRunner.query(
      `ALTER TABLE "integration_events" ALTER COLUMN "tx" SET DEFAULT pg_current_xact_id()`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_stream" ON "integration_events" ("tx", "seq")`,
    );
    await queryRunner.query(
      `CREATE TABLE "relay_cursors" ("sink" character varying(40) NOT NULL, "stream_tx" xid8 NOT NULL, "stream_seq" bigint NOT NULL, "owner" character varying(100), "expires_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_relay_cursors" PRIMARY KEY ("sink"))`,
    );
    await queryRunner.query(
      `INSERT INTO "relay_cursors" ("sink", "stream_tx", "stream_seq")
       SELECT 'jetstream', pg_current_xact_id(),
              COALESCE((SELECT min("seq") - 1 FROM "integration_events" WHERE "published_at" IS NULL),
                       (SELECT max("seq") FROM "integration_events"), 0)`,
    );
    await queryRunner.query(`DROP INDEX "idx_integration_events_webhooks_pending"`);
    await queryRunner.query(`DROP INDEX "idx_integration_events_unpublished"`);
    await queryRunner.query(`DROP INDEX "idx_integration_events_saga_unpublished"`);
    await queryRunner.query(
      `ALTER TABLE "integration_events"
         DROP COLUMN "webhooks_at",
         DROP COLUMN "published_at",
         DROP COLUMN "lease_owner",
         DROP COLUMN "lease_expires_at",
         DROP COLUMN "attempts"`,
    );
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
    // A notification's delivery changes count on its row, no longer on its saga's version.
    await queryRunner.query(
      `ALTER TABLE "notifications" ADD "revision" smallint NOT NULL DEFAULT 0`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "notifications" DROP COLUMN "revision"`);
    await queryRunner.query(`DROP INDEX "idx_notifications_pending"`);
    await queryRunner.query(
      `ALTER TABLE "integration_events"
         ADD "webhooks_at" TIMESTAMP WITH TIME ZONE,
         ADD "published_at" TIMESTAMP WITH TIME ZONE,
         ADD "lease_owner" character varying(100),
         ADD "lease_expires_at" TIMESTAMP WITH TIME ZONE,
         ADD "attempts" integer NOT NULL DEFAULT '0'`,
    );
    // What a cursor had passed counts as taken; the rest is handed back to the old relay.
    await queryRunner.query(
      `UPDATE "integration_events" i SET
         "published_at" = CASE WHEN i."tx" IS NULL OR (i."tx", i."seq") <= (c."stream_tx", c."stream_seq")
                               THEN now() END,
         "webhooks_at" = CASE WHEN i."tx" IS NULL OR NOT EXISTS (
                                SELECT 1 FROM "webhook_endpoints" w
                                WHERE w."enabled" AND (i."tx", i."seq") > (w."stream_tx", w."stream_seq"))
                              THEN now() END
       FROM "relay_cursors" c WHERE c."sink" = 'jetstream'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_unpublished" ON "integration_events" ("seq") WHERE "published_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_integration_events_saga_unpublished" ON "integration_events" ("transaction_id", "seq") WHERE "published_at" IS NULL`,
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
    await queryRunner.query(`DROP TABLE "relay_cursors"`);
    await queryRunner.query(`DROP INDEX "idx_integration_events_stream"`);
    await queryRunner.query(`ALTER TABLE "integration_events" DROP COLUMN "tx"`);
  }
}
