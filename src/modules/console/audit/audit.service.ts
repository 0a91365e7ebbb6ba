import { Injectable } from '@nestjs/common';
import type { AuditOutcome } from './audit-entry.entity';
import { AuditRepository, AuditRow } from './audit.repository';

export interface AuditEntry {
  id: string;
  at: Date;
  actor: string;
  action: string;
  transactionId: string | null;
  reason: string;
  outcome: AuditOutcome;
  errorCode: string | null;
  detail: string | null;
}

export interface AuditPage {
  data: AuditEntry[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  nextBefore: string | null;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    transactionId: row.transaction_id,
    reason: row.reason,
    outcome: row.outcome,
    errorCode: row.error_code,
    detail: row.detail,
  };
}

/** What operators did: recorded for every action, whatever its outcome. */
@Injectable()
export class AuditService {
  constructor(private readonly audit: AuditRepository) {}

  async record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<AuditEntry> {
    const row = await this.audit.insert({
      actor: entry.actor,
      action: entry.action,
      transaction_id: entry.transactionId,
      reason: entry.reason,
      outcome: entry.outcome,
      error_code: entry.errorCode,
      detail: entry.detail,
    });
    return toEntry(row);
  }

  async page(options: {
    limit: number;
    before?: string;
    transactionId?: string;
  }): Promise<AuditPage> {
    // One more than asked tells whether an older page exists.
    const rows = await this.audit.newestFirst({
      limit: options.limit + 1,
      beforeId: options.before,
      transactionId: options.transactionId,
    });
    const data = rows.slice(0, options.limit).map(toEntry);
    const last = data.at(-1);
    return {
      data,
      nextBefore: rows.length > options.limit && last !== undefined ? last.id : null,
    };
  }
}
