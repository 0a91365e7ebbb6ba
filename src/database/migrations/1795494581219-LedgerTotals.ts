import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What came into each account and each stock from outside the saga (starting figures, admin
 * top-ups and restocks), so that conservation can be checked: credited = balance + completed
 * totals, stocked = stock + completed quantities. Existing rows get the best figure available,
 * which assumes their current state is consistent.
 */
export class LedgerTotals1795494581219 implements MigrationInterface {
  name = 'LedgerTotals1795494581219';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "users" ADD "credited_total" numeric(12,2) NOT NULL DEFAULT '0'`,
    );
    await queryRunner.query(`ALTER TABLE "items" ADD "stocked_total" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(
      `UPDATE "users" u SET "credited_total" = u."balance" + COALESCE(
         (SELECT sum(s."price") FROM "saga_states" s
          WHERE s."user_id" = u."user_id" AND s."status" = 'completed'), 0)`,
    );
    await queryRunner.query(
      `UPDATE "items" i SET "stocked_total" = i."stock" + COALESCE(
         (SELECT sum(s."quantity") FROM "saga_states" s
          WHERE s."item_id" = i."item_id" AND s."status" = 'completed'), 0)`,
    );
    await queryRunner.query(
      `ALTER TABLE "users" ADD CONSTRAINT "chk_users_credited_total_non_negative" CHECK ("credited_total" >= 0)`,
    );
    await queryRunner.query(
      `ALTER TABLE "items" ADD CONSTRAINT "chk_items_stocked_total_non_negative" CHECK ("stocked_total" >= 0)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "items" DROP CONSTRAINT "chk_items_stocked_total_non_negative"`,
    );
    await queryRunner.query(
      `ALTER TABLE "users" DROP CONSTRAINT "chk_users_credited_total_non_negative"`,
    );
    await queryRunner.query(`ALTER TABLE "items" DROP COLUMN "stocked_total"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "credited_total"`);
  }
}
