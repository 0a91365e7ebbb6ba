import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Notifications are delivered through the integration events' channels (JetStream, webhooks)
 * instead of a simulated sender: a row is `pending` until its first hand-off to a channel
 * (`delivered`, `delivered_at`) or until no channel will deliver it (`failed`, with `error`).
 * A webhook delivery's outcome is judged against the other deliveries of the same event, hence
 * the index on `event_id`.
 */
export class NotificationDelivery1796600000000 implements MigrationInterface {
  name = 'NotificationDelivery1796600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "notifications" DROP CONSTRAINT "chk_notifications_status"`,
    );
    await queryRunner.query(
      `UPDATE "notifications" SET "status" = 'delivered' WHERE "status" = 'sent'`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" RENAME COLUMN "sent_at" TO "delivered_at"`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" ADD CONSTRAINT "chk_notifications_status" CHECK ("status" IN ('pending', 'delivered', 'failed'))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_webhook_deliveries_event" ON "webhook_deliveries" ("event_id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "idx_webhook_deliveries_event"`);
    await queryRunner.query(
      `ALTER TABLE "notifications" DROP CONSTRAINT "chk_notifications_status"`,
    );
    // The old states: a delivered notification was `sent`, a pending one had not been sent.
    await queryRunner.query(
      `UPDATE "notifications" SET "status" = 'sent' WHERE "status" = 'delivered'`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" RENAME COLUMN "delivered_at" TO "sent_at"`,
    );
    await queryRunner.query(
      `ALTER TABLE "notifications" ADD CONSTRAINT "chk_notifications_status" CHECK ("status" IN ('pending', 'sent', 'failed'))`,
    );
  }
}
