import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The item filter's index in the listing's full order: settled sagas by (item_id, created_at,
 * transaction_id), replacing idx_saga_states_item_settled's (item_id, created_at). The listing
 * orders by created_at, then transaction_id; without the last column the planner paid a sort for
 * the item index and, for an item holding a large share of the sagas, often preferred walking
 * idx_saga_states_created_at backwards and filtering. That is cheap while the item sells, but
 * reads every saga since its last sale once it stops: 446 ms at two million sagas for an item
 * unsold for a quarter of an hour. With the full order the item index answers a page with no
 * sort, and the planner takes it whatever the item's share. Same predicate, so a saga still
 * writes its entry once, when it settles. Built CONCURRENTLY, then the old index dropped.
 */
export class ItemListingOrder1796550000000 implements MigrationInterface {
  name = 'ItemListingOrder1796550000000';
  // CREATE INDEX CONCURRENTLY cannot run inside a transaction.
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    // An interrupted build leaves an invalid index behind: built again from scratch.
    await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS "idx_saga_states_item_listing"`);
    await queryRunner.query(
      `CREATE INDEX CONCURRENTLY "idx_saga_states_item_listing" ON "saga_states" ("item_id", "created_at", "transaction_id") WHERE "status" IN ('completed', 'compensated', 'failed')`,
    );
    await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS "idx_saga_states_item_settled"`);
  }

  // Undone inside a transaction (as the migration runner reverts): no CONCURRENTLY here.
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS "idx_saga_states_item_settled" ON "saga_states" ("item_id", "created_at") WHERE "status" IN ('completed', 'compensated', 'failed')`,
    );
    await queryRunner.query(`DROP INDEX IF EXISTS "public"."idx_saga_states_item_listing"`);
  }
}
