import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the admin statistics: per-pattern status counts (index-only scan), sagas finished
 * recently (throughput and latency), and sagas whose compensation failed.
 */
export class SagaReportingIndexes1795493273538 implements MigrationInterface {
  name = 'SagaReportingIndexes1795493273538';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_pattern_status" ON "saga_states"  ("pattern", "status") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_completed_at" ON "saga_states"  ("completed_at") WHERE "completed_at" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_failed_at" ON "saga_states"  ("failed_at") WHERE "failed_at" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_compensation_failed" ON "saga_states"  ("created_at") WHERE "status" = 'failed' AND "error_code" = 'COMPENSATION_FAILED'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_compensation_failed"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_failed_at"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_completed_at"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_pattern_status"`);
  }
}
