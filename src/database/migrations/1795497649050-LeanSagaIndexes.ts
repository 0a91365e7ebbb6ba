import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Keeps the saga row cheap to update: the index on the lease (which every step renews) becomes
 * one on open sagas' creation time, the plain status index (covered by status + created_at) goes,
 * and pages keep room for updates in place (HOT), so steps that change neither status nor an
 * indexed date touch no index.
 */
export class LeanSagaIndexes1795497649050 implements MigrationInterface {
  name = 'LeanSagaIndexes1795497649050';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_recoverable"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_status"`);
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_open" ON "saga_states" ("created_at") WHERE "status" IN ('pending', 'in_progress', 'compensating')`,
    );
    await queryRunner.query(`ALTER TABLE "saga_states" SET (fillfactor = 80)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "saga_states" RESET (fillfactor)`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_open"`);
    await queryRunner.query(`CREATE INDEX "idx_saga_states_status" ON "saga_states" ("status") `);
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_recoverable" ON "saga_states" ("lease_expires_at") WHERE "status" IN ('pending', 'in_progress', 'compensating')`,
    );
  }
}
