import { MigrationInterface, QueryRunner } from 'typeorm';

/** Settings shared by every instance (the saga pattern of new purchases). */
export class SagaSettings1795495018882 implements MigrationInterface {
  name = 'SagaSettings1795495018882';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "saga_settings" ("key" character varying(50) NOT NULL, "value" character varying(200) NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_saga_settings_key" PRIMARY KEY ("key"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "saga_settings"`);
  }
}
