import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One pending row per write instead of one per event: the events one statement writes (a step
 * batch raises those of every saga in it) share a row, which lists their ids and carries their
 * lease and attempts, and is deleted once all of them are published. The row's id is its first
 * event's. An event is dispatched when no pending row lists it.
 */
export class OutboxPendingBatches1795990000000 implements MigrationInterface {
  name = 'OutboxPendingBatches1795990000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "outbox_pending" DROP CONSTRAINT "FK_outbox_pending_event"`,
    );
    await queryRunner.query(`ALTER TABLE "outbox_pending" ADD "event_ids" bigint array`);
    await queryRunner.query(`UPDATE "outbox_pending" SET "event_ids" = ARRAY["id"]`);
    await queryRunner.query(`ALTER TABLE "outbox_pending" ALTER COLUMN "event_ids" SET NOT NULL`);
    await queryRunner.query(
      `ALTER TABLE "outbox_pending" ADD CONSTRAINT "chk_outbox_pending_event_ids" CHECK (cardinality("event_ids") > 0)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // A row per event again, each with its write's lease and attempts.
    await queryRunner.query(
      `CREATE TEMPORARY TABLE "outbox_pending_events" AS
       SELECT DISTINCT ON (u."id") u."id", p."attempts", p."available_at", p."lease_owner",
              p."lease_expires_at"
       FROM "outbox_pending" p CROSS JOIN LATERAL unnest(p."event_ids") AS u("id")
       ORDER BY u."id", p."id"`,
    );
    await queryRunner.query(`DELETE FROM "outbox_pending"`);
    await queryRunner.query(
      `ALTER TABLE "outbox_pending" DROP CONSTRAINT "chk_outbox_pending_event_ids"`,
    );
    await queryRunner.query(`ALTER TABLE "outbox_pending" DROP COLUMN "event_ids"`);
    await queryRunner.query(
      `INSERT INTO "outbox_pending" ("id", "attempts", "available_at", "lease_owner", "lease_expires_at")
       SELECT p."id", p."attempts", p."available_at", p."lease_owner", p."lease_expires_at"
       FROM "outbox_pending_events" p JOIN "outbox_events" e ON e."id" = p."id"`,
    );
    await queryRunner.query(
      `ALTER TABLE "outbox_pending" ADD CONSTRAINT "FK_outbox_pending_event" FOREIGN KEY ("id") REFERENCES "outbox_events"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(`DROP TABLE "outbox_pending_events"`);
  }
}
