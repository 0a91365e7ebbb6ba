import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The trace a saga belongs to (a W3C `traceparent`), written when it is recorded with tracing on,
 * so that its steps join that trace in any process, after any restart. Nullable: existing rows,
 * and every saga recorded with tracing off, have none.
 */
export class SagaTraceParent1796200000000 implements MigrationInterface {
  name = 'SagaTraceParent1796200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "saga_states" ADD "trace_parent" character varying(55)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "saga_states" DROP COLUMN "trace_parent"`);
  }
}
