import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The ledger's changes as an append-only log: each fold writes the (user, item) pairs it changed,
 * with their folded quantity, in the statement that changes them, numbered in order. The
 * incremental integrity run reads the changes past its checkpoint as one contiguous range of this
 * narrow table instead of finding them all over `saga_ledger_totals` through `changed_seq`, which
 * goes, with its index: the fold's update of a pair then touches no index, and may stay on its
 * page (HOT).
 *
 * The changes past the checkpoint are copied from the totals (the pairs integrity has not checked
 * yet; every pair when it never ran: about a million rows at two million sagas, a few seconds).
 * Dropping the column rewrites nothing. The fold waits on the lock below until this commits.
 */
export class LedgerChangeLog1796950000000 implements MigrationInterface {
  name = 'LedgerChangeLog1796950000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "saga_ledger_changes" ("seq" bigint NOT NULL, "user_id" character varying(50) NOT NULL, "item_id" character varying(50) NOT NULL, "completed_quantity" bigint NOT NULL, CONSTRAINT "PK_saga_ledger_changes" PRIMARY KEY ("seq"))`,
    );
    await queryRunner.query(`LOCK TABLE "saga_ledger_totals" IN SHARE ROW EXCLUSIVE MODE`);
    await queryRunner.query(
      `INSERT INTO saga_ledger_changes (seq, user_id, item_id, completed_quantity)
       SELECT changed_seq, user_id, item_id, completed_quantity FROM saga_ledger_totals
       WHERE changed_seq > COALESCE((SELECT ledger_seq FROM integrity_checkpoint WHERE id = 1), 0)
       ORDER BY changed_seq`,
    );
    await queryRunner.query(`DROP INDEX "public"."idx_saga_ledger_totals_changed"`);
    await queryRunner.query(`ALTER TABLE "saga_ledger_totals" DROP COLUMN "changed_seq"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`LOCK TABLE "saga_ledger_totals" IN SHARE ROW EXCLUSIVE MODE`);
    await queryRunner.query(
      `ALTER TABLE "saga_ledger_totals" ADD "changed_seq" bigint NOT NULL DEFAULT 0`,
    );
    // Each pair's last change; pairs whose changes are all checked and gone keep 0.
    await queryRunner.query(
      `UPDATE saga_ledger_totals t SET changed_seq = c.seq
       FROM (SELECT user_id, item_id, max(seq) AS seq FROM saga_ledger_changes
             GROUP BY user_id, item_id) c
       WHERE c.user_id = t.user_id AND c.item_id = t.item_id`,
    );
    await queryRunner.query(
      `ALTER TABLE "saga_ledger_totals" ALTER COLUMN "changed_seq" DROP DEFAULT`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_ledger_totals_changed" ON "saga_ledger_totals" ("changed_seq")`,
    );
    await queryRunner.query(`DROP TABLE "saga_ledger_changes"`);
  }
}
