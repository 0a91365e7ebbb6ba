import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1795491629090 implements MigrationInterface {
  name = 'InitialSchema1795491629090';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "items" ("item_id" character varying(50) NOT NULL, "name" character varying(100) NOT NULL, "description" text, "price" numeric(12,2) NOT NULL, "stock" integer NOT NULL DEFAULT '0', "is_available" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_items_price_non_negative" CHECK ("price" >= 0), CONSTRAINT "chk_items_stock_non_negative" CHECK ("stock" >= 0), CONSTRAINT "PK_d0249fbc104e3bd71b5a0ecf3b1" PRIMARY KEY ("item_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "saga_states" ("transaction_id" character varying(64) NOT NULL, "pattern" character varying(20) NOT NULL, "status" character varying(20) NOT NULL, "current_step" character varying(50), "user_id" character varying(50) NOT NULL, "item_id" character varying(50) NOT NULL, "quantity" integer NOT NULL, "price" numeric(12,2), "idempotency_key" character varying(255), "request_hash" character varying(64), "error_step" character varying(50), "error_code" character varying(50), "error_message" text, "version" integer NOT NULL DEFAULT '0', "lease_owner" character varying(100), "lease_expires_at" TIMESTAMP WITH TIME ZONE, "attempts" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "completed_at" TIMESTAMP WITH TIME ZONE, "failed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "UQ_81f9ddf068d719952ca5fe39b22" UNIQUE ("idempotency_key"), CONSTRAINT "chk_saga_states_quantity_positive" CHECK ("quantity" > 0), CONSTRAINT "chk_saga_states_pattern" CHECK ("pattern" IN ('orchestration', 'choreography')), CONSTRAINT "chk_saga_states_status" CHECK ("status" IN ('pending', 'in_progress', 'completed', 'compensating', 'compensated', 'failed')), CONSTRAINT "PK_889f6fd2c7e09f04a99e6eaac77" PRIMARY KEY ("transaction_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_recoverable" ON "saga_states"  ("lease_expires_at") WHERE "status" IN ('pending', 'in_progress', 'compensating')`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_pattern_created" ON "saga_states"  ("pattern", "created_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_status_created" ON "saga_states"  ("status", "created_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_created_at" ON "saga_states"  ("created_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_states_user_created" ON "saga_states"  ("user_id", "created_at") `,
    );
    await queryRunner.query(`CREATE INDEX "idx_saga_states_status" ON "saga_states"  ("status") `);
    await queryRunner.query(
      `CREATE TABLE "transaction_logs" ("log_id" character varying(64) NOT NULL, "transaction_id" character varying(64) NOT NULL, "user_id" character varying(50) NOT NULL, "item_id" character varying(50) NOT NULL, "quantity" integer NOT NULL, "price" numeric(12,2) NOT NULL, "status" character varying(20) NOT NULL, "log_data" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "UQ_034c486435c5b92fd62c2d6f6a7" UNIQUE ("transaction_id"), CONSTRAINT "chk_transaction_logs_status" CHECK ("status" IN ('completed', 'compensated')), CONSTRAINT "PK_77d7e09163aa1e895fc3c89546b" PRIMARY KEY ("log_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_transaction_logs_user_created" ON "transaction_logs"  ("user_id", "created_at") `,
    );
    await queryRunner.query(
      `CREATE TABLE "notifications" ("notification_id" character varying(64) NOT NULL, "transaction_id" character varying(64) NOT NULL, "user_id" character varying(50) NOT NULL, "type" character varying(50) NOT NULL, "message" text NOT NULL, "channels" jsonb NOT NULL, "status" character varying(20) NOT NULL, "attempts" integer NOT NULL DEFAULT '0', "error" text, "sent_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_notifications_status" CHECK ("status" IN ('pending', 'sent', 'failed')), CONSTRAINT "PK_eaedfe19f0f765d26afafa85956" PRIMARY KEY ("notification_id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_notifications_transaction_type" ON "notifications"  ("transaction_id", "type") `,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_notifications_user_status" ON "notifications"  ("user_id", "status") `,
    );
    await queryRunner.query(
      `CREATE TABLE "outbox_events" ("id" BIGSERIAL NOT NULL, "event_id" uuid NOT NULL, "event_type" character varying(60) NOT NULL, "aggregate_id" character varying(64) NOT NULL, "payload" jsonb NOT NULL, "status" character varying(20) NOT NULL DEFAULT 'pending', "attempts" integer NOT NULL DEFAULT '0', "available_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "lease_owner" character varying(100), "lease_expires_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "dispatched_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "UQ_a82c439f9dab57e098be1d83291" UNIQUE ("event_id"), CONSTRAINT "chk_outbox_events_status" CHECK ("status" IN ('pending', 'dispatched')), CONSTRAINT "PK_6689a16c00d09b8089f6237f1d2" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_outbox_events_pending" ON "outbox_events"  ("available_at") WHERE "status" = 'pending'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_outbox_events_aggregate" ON "outbox_events"  ("aggregate_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "saga_step_results" ("id" BIGSERIAL NOT NULL, "transaction_id" character varying(64) NOT NULL, "step" character varying(50) NOT NULL, "kind" character varying(20) NOT NULL, "status" character varying(20) NOT NULL, "data" jsonb, "error_code" character varying(50), "error_message" text, "duration_ms" integer NOT NULL DEFAULT '0', "executed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_saga_step_results_status" CHECK ("status" IN ('success', 'failed')), CONSTRAINT "chk_saga_step_results_kind" CHECK ("kind" IN ('forward', 'compensation')), CONSTRAINT "PK_1f29de27c8499703e398387fab3" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_saga_step_results_success" ON "saga_step_results"  ("transaction_id", "step", "kind") WHERE "status" = 'success'`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_step_results_tx" ON "saga_step_results"  ("transaction_id", "id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "users" ("user_id" character varying(50) NOT NULL, "name" character varying(100) NOT NULL, "email" character varying(255), "balance" numeric(12,2) NOT NULL DEFAULT '0', "status" character varying(20) NOT NULL DEFAULT 'active', "purchase_limit" numeric(12,2) NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_users_status" CHECK ("status" IN ('active', 'suspended', 'closed')), CONSTRAINT "chk_users_purchase_limit_non_negative" CHECK ("purchase_limit" >= 0), CONSTRAINT "chk_users_balance_non_negative" CHECK ("balance" >= 0), CONSTRAINT "PK_96aac72f1574b88752e9fb00089" PRIMARY KEY ("user_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "user_inventory" ("user_id" character varying(50) NOT NULL, "item_id" character varying(50) NOT NULL, "quantity" integer NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chk_user_inventory_quantity_non_negative" CHECK ("quantity" >= 0), CONSTRAINT "PK_5a3117067b312eb23e339df6a5c" PRIMARY KEY ("user_id", "item_id"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "transaction_logs" ADD CONSTRAINT "FK_034c486435c5b92fd62c2d6f6a7" FOREIGN KEY ("transaction_id") REFERENCES "saga_states"("transaction_id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" ADD CONSTRAINT "FK_ee3e36f851240ceee0b89b4faa7" FOREIGN KEY ("transaction_id") REFERENCES "saga_states"("transaction_id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "saga_step_results" ADD CONSTRAINT "FK_1e7e1fbc53679b85286c988680f" FOREIGN KEY ("transaction_id") REFERENCES "saga_states"("transaction_id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_inventory" ADD CONSTRAINT "FK_4e23c453e03c0a8c71f83dabfda" FOREIGN KEY ("user_id") REFERENCES "users"("user_id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_inventory" ADD CONSTRAINT "FK_3233e26c68f0e1684ffd938edec" FOREIGN KEY ("item_id") REFERENCES "items"("item_id") ON DELETE RESTRICT ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "user_inventory" DROP CONSTRAINT "FK_3233e26c68f0e1684ffd938edec"`,
    );
    await queryRunner.query(
      `ALTER TABLE "user_inventory" DROP CONSTRAINT "FK_4e23c453e03c0a8c71f83dabfda"`,
    );
    await queryRunner.query(
      `ALTER TABLE "saga_step_results" DROP CONSTRAINT "FK_1e7e1fbc53679b85286c988680f"`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" DROP CONSTRAINT "FK_ee3e36f851240ceee0b89b4faa7"`,
    );
    await queryRunner.query(
      `ALTER TABLE "transaction_logs" DROP CONSTRAINT "FK_034c486435c5b92fd62c2d6f6a7"`,
    );
    await queryRunner.query(`DROP TABLE "user_inventory"`);
    await queryRunner.query(`DROP TABLE "users"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_step_results_tx"`);
    await queryRunner.query(`DROP INDEX "public"."uq_saga_step_results_success"`);
    await queryRunner.query(`DROP TABLE "saga_step_results"`);
    await queryRunner.query(`DROP INDEX "public"."idx_outbox_events_aggregate"`);
    await queryRunner.query(`DROP INDEX "public"."idx_outbox_events_pending"`);
    await queryRunner.query(`DROP TABLE "outbox_events"`);
    await queryRunner.query(`DROP INDEX "public"."idx_notifications_user_status"`);
    await queryRunner.query(`DROP INDEX "public"."uq_notifications_transaction_type"`);
    await queryRunner.query(`DROP TABLE "notifications"`);
    await queryRunner.query(`DROP INDEX "public"."idx_transaction_logs_user_created"`);
    await queryRunner.query(`DROP TABLE "transaction_logs"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_status"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_user_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_created_at"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_status_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_pattern_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_saga_states_recoverable"`);
    await queryRunner.query(`DROP TABLE "saga_states"`);
    await queryRunner.query(`DROP TABLE "items"`);
  }
}
