import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What completed sagas spent per user and took per item, kept and purged, in one row per user and
 * one per item, so that checking a user's balance or an item's stock reads one row however many
 * items the user bought or users bought the item. The rollup fold adds the ledger deltas to the
 * kept figures in the statement that moves them into saga_ledger_totals, and retention adds what
 * it purges to the purged figures in the statement that adds it to saga_purged_totals, so the
 * tables always agree in a snapshot.
 *
 * The fold and retention wait on the lock below until the rows are counted. The indexes that
 * found an item's rows among every user's go: nothing reads by item alone there any more, and
 * each fold's updates no longer write them.
 */
export class LedgerOwnerTotals1796300002000 implements MigrationInterface {
  name = 'LedgerOwnerTotals1796300002000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "saga_user_totals" ("user_id" character varying(50) NOT NULL, "completed_total" numeric(16,2) NOT NULL DEFAULT 0, "purged_total" numeric(16,2) NOT NULL DEFAULT 0, CONSTRAINT "PK_saga_user_totals" PRIMARY KEY ("user_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "saga_item_totals" ("item_id" character varying(50) NOT NULL, "completed_quantity" bigint NOT NULL DEFAULT 0, "purged_quantity" bigint NOT NULL DEFAULT 0, CONSTRAINT "PK_saga_item_totals" PRIMARY KEY ("item_id"))`,
    );
    await queryRunner.query(
      `LOCK TABLE "saga_ledger_totals", "saga_purged_totals" IN SHARE ROW EXCLUSIVE MODE`,
    );
    await queryRunner.query(
      `INSERT INTO saga_user_totals (user_id, completed_total, purged_total)
       SELECT user_id, sum(kept), sum(purged) FROM (
         SELECT user_id, completed_total AS kept, 0 AS purged FROM saga_ledger_totals
         UNION ALL
         SELECT user_id, 0, completed_total FROM saga_purged_totals) parts
       GROUP BY user_id`,
    );
    await queryRunner.query(
      `INSERT INTO saga_item_totals (item_id, completed_quantity, purged_quantity)
       SELECT item_id, sum(kept), sum(purged) FROM (
         SELECT item_id, completed_quantity AS kept, 0 AS purged FROM saga_ledger_totals
         UNION ALL
         SELECT item_id, 0, completed_quantity FROM saga_purged_totals) parts
       GROUP BY item_id`,
    );
    await queryRunner.query(`DROP INDEX "public"."idx_saga_ledger_totals_item"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_purged_totals_item"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "idx_saga_purged_totals_item" ON "saga_purged_totals" ("item_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_ledger_totals_item" ON "saga_ledger_totals" ("item_id")`,
    );
    await queryRunner.query(`DROP TABLE "saga_item_totals"`);
    await queryRunner.query(`DROP TABLE "saga_user_totals"`);
  }
}
