import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The definition each saga runs: name, version and the hash of its canonical step list. Every
 * saga recorded before versioning ran the purchase saga v1, so the columns default to it: a
 * constant default is added without rewriting the table (PostgreSQL 11+), however many rows it
 * holds. New sagas write their own values.
 */
export class SagaDefinitionVersion1796800000000 implements MigrationInterface {
  name = 'SagaDefinitionVersion1796800000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "saga_states"
         ADD "definition_name" character varying(50) NOT NULL DEFAULT 'purchase',
         ADD "definition_version" integer NOT NULL DEFAULT 1,
         ADD "definition_hash" character(64) NOT NULL
           DEFAULT '52bdf08689f761de7f6552b4c7cffcff83c6c75f8b9c1d283f8cc2aa415ab28b'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "saga_states"
         DROP COLUMN "definition_hash",
         DROP COLUMN "definition_version",
         DROP COLUMN "definition_name"`,
    );
  }
}
