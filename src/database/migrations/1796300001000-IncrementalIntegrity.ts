import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The incremental reconciliation: where the last run got to (shared by the instances), and the
 * indexes its per-saga and per-item look-ups need. A completed saga's log is found by its
 * transaction id (one index entry per log, written once: logs are only ever inserted, and their
 * status change touches no index), and the purged totals of an item by its id.
 */
export class IncrementalIntegrity1796300001000 implements MigrationInterface {
  name = 'IncrementalIntegrity1796300001000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "integrity_checkpoint" ("id" smallint NOT NULL, "ledger_seq" bigint NOT NULL, "finished_after" TIMESTAMP WITH TIME ZONE, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_integrity_checkpoint_single" CHECK ("id" = 1), CONSTRAINT "PK_integrity_checkpoint" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_transaction_logs_transaction" ON "transaction_logs" ("transaction_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_purged_totals_item" ON "saga_purged_totals" ("item_id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_saga_purged_totals_item"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transaction_logs_transaction"`);
    await queryRunner.query(`DROP TABLE "integrity_checkpoint"`);
  }
}
