import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The operator console: an audit log of the actions taken from it (who, when, what, why, how it
 * went), read newest first by id; and an index for the listing filtered by item, newest first.
 * Nothing existing changes: a database of the schema before migrates with every row in place.
 */
export class ConsoleAudit1796100000000 implements MigrationInterface {
  name = 'ConsoleAudit1796100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "admin_audit_log" ("id" BIGSERIAL NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "actor" character varying(50) NOT NULL, "action" character varying(30) NOT NULL, "transaction_id" character varying(100), "reason" text NOT NULL, "outcome" character varying(20) NOT NULL, "error_code" character varying(50), "detail" text, CONSTRAINT "chk_admin_audit_log_outcome" CHECK ("outcome" IN ('succeeded', 'failed', 'refused')), CONSTRAINT "PK_admin_audit_log" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_admin_audit_log_tx" ON "admin_audit_log" ("transaction_id", "id") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_admin_audit_log_tx"`);
    await queryRunner.query(`DROP TABLE "admin_audit_log"`);
  }
}
