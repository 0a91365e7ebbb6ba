import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Drops idx_transaction_logs_transaction (IncrementalIntegrity): transaction_logs' unique
 * constraint on transaction_id is already a btree on that column, which the reconciliation's
 * look-ups use as well, so the second index only cost every completed purchase one more index
 * entry to write (209 MB at two million sagas).
 */
export class LogTransactionIndexOnce1796550001000 implements MigrationInterface {
  name = 'LogTransactionIndexOnce1796550001000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS "public"."idx_transaction_logs_transaction"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS "idx_transaction_logs_transaction" ON "transaction_logs" ("transaction_id")`,
    );
  }
}
