import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention: what removed sagas added up to, per user and item, so that the reconciliation
 * still balances after they are gone; the retention job's last run, shared by the instances; an
 * index over the sagas that still hold an Idempotency-Key, which the job frees after its window.
 * Nothing existing changes: a database of the schema before migrates with every row in place.
 */
export class Retention1796000000000 implements MigrationInterface {
  name = 'Retention1796000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "saga_purged_totals" ("user_id" character varying(50) NOT NULL, "item_id" character varying(50) NOT NULL, "sagas" bigint NOT NULL DEFAULT 0, "completed_sagas" bigint NOT NULL DEFAULT 0, "completed_total" numeric(16,2) NOT NULL DEFAULT 0, "completed_quantity" bigint NOT NULL DEFAULT 0, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_saga_purged_totals" PRIMARY KEY ("user_id", "item_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "retention_runs" ("id" smallint NOT NULL, "run" jsonb NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_retention_runs_single" CHECK ("id" = 1), CONSTRAINT "PK_retention_runs" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_keyed_created" ON "saga_states" ("created_at") WHERE "idempotency_key" IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_keyed_created"`);
    await queryRunner.query(`DROP TABLE "retention_runs"`);
    await queryRunner.query(`DROP TABLE "saga_purged_totals"`);
  }
}
