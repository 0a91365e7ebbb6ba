import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Splits what changes about an outbox event from the event itself. The event row (with its
 * payload) is written once and never updated; while it waits to be published, a narrow row in
 * `outbox_pending` carries its lease and attempts, and publishing it deletes that row. An event
 * is dispatched when it has no pending row.
 */
export class OutboxPending1795960000000 implements MigrationInterface {
  name = 'OutboxPending1795960000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "outbox_pending" ("id" bigint NOT NULL, "attempts" integer NOT NULL DEFAULT 0, "available_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "lease_owner" character varying(100), "lease_expires_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_outbox_pending" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "outbox_pending" ADD CONSTRAINT "FK_outbox_pending_event" FOREIGN KEY ("id") REFERENCES "outbox_events"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `INSERT INTO "outbox_pending" ("id", "attempts", "available_at", "lease_owner", "lease_expires_at")
       SELECT "id", "attempts", "available_at", "lease_owner", "lease_expires_at" FROM "outbox_events"
       WHERE "status" = 'pending'`,
    );
    await queryRunner.query(`DROP INDEX "public"."idx_outbox_events_pending"`);
    await queryRunner.query(
      `ALTER TABLE "outbox_events" DROP CONSTRAINT "chk_outbox_events_status"`,
    );
    for (const column of [
      'status',
      'attempts',
      'available_at',
      'lease_owner',
      'lease_expires_at',
      'dispatched_at',
    ]) {
      await queryRunner.query(`ALTER TABLE "outbox_events" DROP COLUMN "${column}"`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ADD "status" character varying(20) NOT NULL DEFAULT 'dispatched'`,
    );
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ALTER COLUMN "status" SET DEFAULT 'pending'`,
    );
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ADD "attempts" integer NOT NULL DEFAULT 0`,
    );
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ADD "available_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`,
    );
    await queryRunner.query(`ALTER TABLE "outbox_events" ADD "lease_owner" character varying(100)`);
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ADD "lease_expires_at" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ADD "dispatched_at" TIMESTAMP WITH TIME ZONE`,
    );
    await queryRunner.query(
      `UPDATE "outbox_events" e SET "status" = 'pending', "attempts" = p."attempts",
         "available_at" = p."available_at", "lease_owner" = p."lease_owner",
         "lease_expires_at" = p."lease_expires_at"
       FROM "outbox_pending" p WHERE p."id" = e."id"`,
    );
    await queryRunner.query(
      `ALTER TABLE "outbox_events" ADD CONSTRAINT "chk_outbox_events_status" CHECK ("status" IN ('pending', 'dispatched'))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_outbox_events_pending" ON "outbox_events" ("available_at") WHERE "status" = 'pending'`,
    );
    await queryRunner.query(`DROP TABLE "outbox_pending"`);
  }
}
