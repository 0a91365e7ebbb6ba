import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../../database/transaction-host';
import { ReportingTransactionHost } from '../../../database/work-pools';
import type { AuditOutcome } from './audit-entry.entity';

export interface AuditRow {
  id: string;
  at: Date;
  actor: string;
  action: string;
  transaction_id: string | null;
  reason: string;
  outcome: AuditOutcome;
  error_code: string | null;
  detail: string | null;
}

export type NewAuditRow = Omit<AuditRow, 'id' | 'at'>;

const COLUMNS =
  'id::text AS id, at, actor, action, transaction_id, reason, outcome, error_code, detail';

/** The admin audit log: rows are added, and read newest first by id (keyset, never OFFSET). */
@Injectable()
export class AuditRepository {
  constructor(
    private readonly tx: TransactionHost,
    private readonly reporting: ReportingTransactionHost,
  ) {}

  async insert(row: NewAuditRow): Promise<AuditRow> {
    const inserted = await this.tx.one<AuditRow>(
      `INSERT INTO admin_audit_log (actor, action, transaction_id, reason, outcome, error_code, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING ${COLUMNS}`,
      [
        row.actor,
        row.action,
        row.transaction_id,
        row.reason,
        row.outcome,
        row.error_code,
        row.detail,
      ],
    );
    if (inserted === undefined) throw new Error('The audit row was not inserted');
    return inserted;
  }

  /** Up to `limit` rows older than `beforeId` (all when undefined), of one saga when given. */
  newestFirst(options: {
    limit: number;
    beforeId?: string;
    transactionId?: string;
  }): Promise<AuditRow[]> {
    return this.reporting.query<AuditRow>(
      `SELECT ${COLUMNS} FROM admin_audit_log
        WHERE ($1::bigint IS NULL OR id < $1::bigint)
          AND ($2::varchar IS NULL OR transaction_id = $2::varchar)
        ORDER BY id DESC
        LIMIT $3`,
      [options.beforeId ?? null, options.transactionId ?? null, options.limit],
    );
  }
}
