import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A function that fails the statement calling it: a step batch's transitions statement calls it
 * for a saga that was not at the version the batch locked it at, so that the batch's transaction
 * cannot commit (its COMMIT leaves together with that statement).
 */
export class SagaFenceGuard1795980000000 implements MigrationInterface {
  name = 'SagaFenceGuard1795980000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE FUNCTION "saga_fence_lost"(transaction_id character varying) RETURNS integer
       LANGUAGE plpgsql VOLATILE AS $$
       BEGIN
         RAISE EXCEPTION 'saga % is not at the version its transaction locked', transaction_id
           USING ERRCODE = 'P0001';
       END
       $$`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION "saga_fence_lost"(character varying)`);
  }
}
