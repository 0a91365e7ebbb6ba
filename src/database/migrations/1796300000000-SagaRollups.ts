import { MigrationInterface, QueryRunner } from 'typeorm';

/** What one saga row contributes, as SQL over a row alias (its duration in exact milliseconds). */
const FINISHED_AT = (r: string) => `COALESCE(${r}.completed_at, ${r}.failed_at)`;
const DURATION_MS = (r: string) =>
  `(extract(epoch FROM ${FINISHED_AT(r)} - ${r}.created_at) * 1000)`;
const TERMINAL = (r: string) => `${r}.status IN ('completed', 'compensated', 'failed')`;
/** Duration histogram: bucket b holds (2^((b-1)/4), 2^(b/4)] ms, bucket 0 up to 1 ms. */
const BUCKET = (ms: string) =>
  `LEAST(160, GREATEST(0, ceil(4 * ln(GREATEST(${ms}::float8, 1)) / ln(2))))::smallint`;
const SLOT = (at: string) => `date_bin('10 seconds', ${at}, timestamptz '2000-01-01')`;

/**
 * Rollups of the saga rows, so that statistics and the incremental integrity check cost the same
 * at any number of sagas:
 * - `saga_status_totals`: sagas per pattern and status, with the summed duration of those that
 *   have a finish time;
 * - `saga_finish_slots`: sagas that reached a final status per 10 s, pattern, status and duration
 *   bucket (throughput and percentiles over a window);
 * - `saga_ledger_totals`: per user and item, what completed sagas spent and granted, and a
 *   sequence number of the last change (what integrity re-checks).
 *
 * Statement-level triggers on saga_states record each statement's net change as a few rows in
 * append-only `*_deltas` tables (concurrent transactions never wait on one counter row); the
 * service's rollup job folds them into the totals, and readers add the deltas not folded yet,
 * so every figure is exact as of the reading's snapshot. The triggers see every writer (steps,
 * recovery, retention, a restore), so no code path can forget them.
 *
 * CREATE TRIGGER locks out writes to saga_states until this migration commits, so the totals
 * computed below from the existing rows and the deltas recorded after them do not overlap.
 */
export class SagaRollups1796300000000 implements MigrationInterface {
  name = 'SagaRollups1796300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "saga_count_deltas" ("pattern" character varying(20) NOT NULL, "status" character varying(20) NOT NULL, "sagas" bigint NOT NULL, "timed" bigint NOT NULL, "duration_ms" numeric NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE TABLE "saga_status_totals" ("pattern" character varying(20) NOT NULL, "status" character varying(20) NOT NULL, "sagas" bigint NOT NULL, "timed" bigint NOT NULL, "duration_ms" numeric NOT NULL, CONSTRAINT "PK_saga_status_totals" PRIMARY KEY ("pattern", "status"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "saga_finish_deltas" ("slot" TIMESTAMP WITH TIME ZONE NOT NULL, "pattern" character varying(20) NOT NULL, "status" character varying(20) NOT NULL, "bucket" smallint NOT NULL, "finished" bigint NOT NULL, "duration_ms" numeric NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE TABLE "saga_finish_slots" ("slot" TIMESTAMP WITH TIME ZONE NOT NULL, "pattern" character varying(20) NOT NULL, "status" character varying(20) NOT NULL, "bucket" smallint NOT NULL, "finished" bigint NOT NULL, "duration_ms" numeric NOT NULL, CONSTRAINT "PK_saga_finish_slots" PRIMARY KEY ("slot", "pattern", "status", "bucket"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "saga_ledger_deltas" ("user_id" character varying(50) NOT NULL, "item_id" character varying(50) NOT NULL, "completed_sagas" bigint NOT NULL, "completed_total" numeric(16,2) NOT NULL, "completed_quantity" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE SEQUENCE "saga_ledger_change_seq"`);
    await queryRunner.query(
      `CREATE TABLE "saga_ledger_totals" ("user_id" character varying(50) NOT NULL, "item_id" character varying(50) NOT NULL, "completed_sagas" bigint NOT NULL, "completed_total" numeric(16,2) NOT NULL, "completed_quantity" bigint NOT NULL, "changed_seq" bigint NOT NULL, CONSTRAINT "PK_saga_ledger_totals" PRIMARY KEY ("user_id", "item_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_ledger_totals_item" ON "saga_ledger_totals" ("item_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_saga_ledger_totals_changed" ON "saga_ledger_totals" ("changed_seq")`,
    );

    // One function per kind of statement, each one statement: it reads the rows before
    // (old_rows) and/or after (new_rows) once, as `changes`, one row per saga that moved
    // (before: sign -1, after: +1; an update keeps only sagas whose status or finish time moved),
    // and records their net effect. A saga reaching a final status is also a finish in its 10 s
    // slot, and touches its user and item in the ledger even when nothing completed.
    const record = (changes: string) => `
      WITH changes AS MATERIALIZED (${changes}),
      counted AS (
        INSERT INTO saga_count_deltas (pattern, status, sagas, timed, duration_ms)
        SELECT pattern, status, sum(sign), COALESCE(sum(sign) FILTER (WHERE duration_ms IS NOT NULL), 0),
               COALESCE(sum(sign * duration_ms), 0)
        FROM changes GROUP BY pattern, status
        HAVING sum(sign) <> 0 OR COALESCE(sum(sign * duration_ms), 0) <> 0
            OR COALESCE(sum(sign) FILTER (WHERE duration_ms IS NOT NULL), 0) <> 0
      ),
      finishes AS (
        INSERT INTO saga_finish_deltas (slot, pattern, status, bucket, finished, duration_ms)
        SELECT ${SLOT('finished_at')}, pattern, status, ${BUCKET('duration_ms')}, count(*),
               sum(duration_ms)
        FROM changes WHERE finish
        GROUP BY 1, 2, 3, 4
      )
      INSERT INTO saga_ledger_deltas (user_id, item_id, completed_sagas, completed_total, completed_quantity)
      SELECT user_id, item_id, sum(completed), sum(completed * price), sum(completed * quantity)
      FROM (SELECT user_id, item_id, sign * (status = 'completed')::int AS completed,
                   COALESCE(price, 0) AS price, quantity
            FROM changes WHERE ledger) l
      GROUP BY user_id, item_id;`;
    /** One side of a change: `finish` and `ledger` say whether it counts there. */
    const side = (sign: number, r: string, finish: string, ledger: string) =>
      `SELECT ${sign} AS sign, ${r}.pattern, ${r}.status, ${r}.user_id, ${r}.item_id, ${r}.price,
              ${r}.quantity, ${FINISHED_AT(r)} AS finished_at, ${DURATION_MS(r)} AS duration_ms,
              ${finish} AS finish, ${ledger} AS ledger`;
    const finishes = (r: string) => `(${TERMINAL(r)} AND ${FINISHED_AT(r)} IS NOT NULL)`;
    const moved = `FROM old_rows o JOIN new_rows n ON n.transaction_id = o.transaction_id
        WHERE o.status <> n.status OR o.completed_at IS DISTINCT FROM n.completed_at
           OR o.failed_at IS DISTINCT FROM n.failed_at OR o.created_at <> n.created_at`;
    const functionOf = (name: string, changes: string) => `
      CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        ${record(changes)}
        RETURN NULL;
      END $$`;
    await queryRunner.query(
      functionOf(
        'saga_rollups_on_insert',
        `${side(1, 'n', finishes('n'), TERMINAL('n'))} FROM new_rows n`,
      ),
    );
    await queryRunner.query(
      functionOf(
        'saga_rollups_on_update',
        `${side(1, 'n', `(o.status <> n.status AND ${finishes('n')})`, `(o.status <> n.status AND ${TERMINAL('n')})`)} ${moved}
         UNION ALL
         ${side(-1, 'o', 'FALSE', `(o.status <> n.status AND o.status = 'completed')`)} ${moved}`,
      ),
    );
    await queryRunner.query(
      functionOf(
        'saga_rollups_on_delete',
        `${side(-1, 'o', 'FALSE', `o.status = 'completed'`)} FROM old_rows o`,
      ),
    );
    await queryRunner.query(
      `CREATE TRIGGER saga_rollups_insert AFTER INSERT ON saga_states REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION saga_rollups_on_insert()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER saga_rollups_update AFTER UPDATE ON saga_states REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION saga_rollups_on_update()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER saga_rollups_delete AFTER DELETE ON saga_states REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION saga_rollups_on_delete()`,
    );

    // The sagas already there (writes wait for this transaction since CREATE TRIGGER).
    await queryRunner.query(
      `INSERT INTO saga_status_totals (pattern, status, sagas, timed, duration_ms)
       SELECT s.pattern, s.status, count(*), count(${FINISHED_AT('s')}),
              COALESCE(sum(${DURATION_MS('s')}), 0)
       FROM saga_states s GROUP BY s.pattern, s.status`,
    );
    await queryRunner.query(
      `INSERT INTO saga_finish_slots (slot, pattern, status, bucket, finished, duration_ms)
       SELECT ${SLOT(FINISHED_AT('n'))}, n.pattern, n.status, ${BUCKET(DURATION_MS('n'))}, count(*),
              sum(${DURATION_MS('n')})
       FROM saga_states n
       WHERE ${TERMINAL('n')} AND ${FINISHED_AT('n')} >= now() - interval '1 day'
       GROUP BY 1, 2, 3, 4`,
    );
    await queryRunner.query(
      `INSERT INTO saga_ledger_totals (user_id, item_id, completed_sagas, completed_total, completed_quantity, changed_seq)
       SELECT s.user_id, s.item_id, count(*) FILTER (WHERE s.status = 'completed'),
              COALESCE(sum(s.price) FILTER (WHERE s.status = 'completed'), 0),
              COALESCE(sum(s.quantity) FILTER (WHERE s.status = 'completed'), 0),
              nextval('saga_ledger_change_seq')
       FROM saga_states s WHERE ${TERMINAL('s')} GROUP BY s.user_id, s.item_id`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "saga_rollups_delete" ON "saga_states"`);
    await queryRunner.query(`DROP TRIGGER "saga_rollups_update" ON "saga_states"`);
    await queryRunner.query(`DROP TRIGGER "saga_rollups_insert" ON "saga_states"`);
    await queryRunner.query(`DROP FUNCTION saga_rollups_on_delete()`);
    await queryRunner.query(`DROP FUNCTION saga_rollups_on_update()`);
    await queryRunner.query(`DROP FUNCTION saga_rollups_on_insert()`);
    await queryRunner.query(`DROP TABLE "saga_ledger_totals"`);
    await queryRunner.query(`DROP SEQUENCE "saga_ledger_change_seq"`);
    await queryRunner.query(`DROP TABLE "saga_ledger_deltas"`);
    await queryRunner.query(`DROP TABLE "saga_finish_slots"`);
    await queryRunner.query(`DROP TABLE "saga_finish_deltas"`);
    await queryRunner.query(`DROP TABLE "saga_status_totals"`);
    await queryRunner.query(`DROP TABLE "saga_count_deltas"`);
  }
}
