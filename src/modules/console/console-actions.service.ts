import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { DomainError, NotFoundError } from '../../common/errors/domain-error';
import type { AppConfig } from '../../config/configuration';
import { ItemsService, type ItemView } from '../items/items.service';
import { SagaAdmin, type SagaEventView, type SagaView } from '../saga/runtime/saga-admin';
import {
  SagaVersionMoves,
  type VersionMove,
  type VersionMoveResult,
} from '../saga/runtime/saga-version-moves';
import { compensationGaveUp } from '../saga/core/saga';
import { SagaVersions } from '../saga/core/saga-versions';
import { UsersService, type UserProfileView } from '../users/users.service';
import { AuditService, type AuditEntry } from './audit/audit.service';

export interface SagaDetail {
  saga: SagaView;
  /** The outbox events of a choreographed saga, in order, with their delivery state. */
  events: SagaEventView[];
  /** The user's and item's figures now; null once they are gone. */
  user: UserProfileView | null;
  item: ItemView | null;
  /** What operators did to this saga, newest first. */
  audit: AuditEntry[];
  /** This instance drives the definition version the saga runs (else it cannot act on it). */
  definitionDriven: boolean;
}

export interface SagaActionResult {
  success: boolean;
  message: string;
  saga: SagaView;
  audit: AuditEntry;
}

export interface VersionMoveActionResult extends VersionMoveResult {
  success: true;
  message: string;
  audit: AuditEntry;
}

/** The audit log's name of a move between definition versions. */
export const MOVE_VERSION_ACTION = 'move-version';

/** Shown in the detail: the last entries of a saga's audit trail. */
const DETAIL_AUDIT_ENTRIES = 20;

async function orNull<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}

/** A failed compensation is re-driven; anything else is compensated by hand. */
export function actionOf(saga: SagaView): 're-drive' | 'compensate' {
  return compensationGaveUp({ status: saga.status, errorCode: saga.error?.code ?? null })
    ? 're-drive'
    : 'compensate';
}

/**
 * What the operator console reads about one saga, and the actions it takes: the saga module's
 * own compensation and moves between definition versions (one rule in one place), each written
 * to the audit log with its outcome.
 */
@Injectable()
export class ConsoleActionsService {
  readonly readOnly: boolean;

  constructor(
    private readonly sagas: SagaAdmin,
    private readonly users: UsersService,
    private readonly items: ItemsService,
    private readonly audit: AuditService,
    private readonly moves: SagaVersionMoves,
    private readonly versions: SagaVersions,
    config: ConfigService<AppConfig, true>,
  ) {
    this.readOnly = config.get('console', { infer: true }).readOnly;
  }

  async detail(transactionId: string): Promise<SagaDetail> {
    const saga = await this.sagas.view(transactionId);
    const [events, user, item, audit] = await Promise.all([
      this.sagas.events(transactionId),
      orNull(this.users.getProfile(saga.purchaseData.userId)),
      orNull(this.items.get(saga.purchaseData.itemId)),
      this.audit.page({ limit: DETAIL_AUDIT_ENTRIES, transactionId }),
    ]);
    return {
      saga,
      events,
      user,
      item,
      audit: audit.data,
      definitionDriven: this.versions.drives(saga.definition),
    };
  }

  /** Compensates or re-drives a saga for `actor`; audited whatever happens, then answered. */
  async compensate(
    transactionId: string,
    actor: string,
    reason: string,
  ): Promise<SagaActionResult> {
    const entry = { actor, transactionId, reason };
    let action: 're-drive' | 'compensate' = 'compensate';
    try {
      if (this.readOnly) {
        throw new DomainError(
          'CONSOLE_READ_ONLY',
          'The console is read-only (CONSOLE_READ_ONLY): actions are refused',
        );
      }
      action = actionOf(await this.sagas.view(transactionId));
      const { view, changed } = await this.sagas.compensate(transactionId);
      const success = view.status === 'compensated' || (view.status === 'failed' && !changed);
      const message = changed
        ? `Compensation run; saga is ${view.status}`
        : `Nothing to compensate; saga is ${view.status}`;
      const audit = await this.audit.record({
        ...entry,
        action,
        outcome: success ? 'succeeded' : 'failed',
        errorCode: success ? null : (view.error?.code ?? null),
        detail: message,
      });
      return { success, message, saga: view, audit };
    } catch (error) {
      await this.audit.record({
        ...entry,
        action,
        outcome:
          error instanceof DomainError && error.code === 'CONSOLE_READ_ONLY' ? 'refused' : 'failed',
        errorCode: error instanceof DomainError ? error.code : 'INTERNAL_ERROR',
        // A domain refusal says what went wrong; anything else stays in the service log.
        detail:
          error instanceof DomainError
            ? error.message
            : 'The action failed on an internal error (see the service log)',
      });
      throw error;
    }
  }

  /**
   * Moves the open sagas of one definition version onto another for `actor`: the move and its
   * audit entry commit together; a refusal is audited too. Bad input is no action: not audited.
   */
  async moveVersion(
    move: VersionMove,
    actor: string,
    reason: string,
  ): Promise<VersionMoveActionResult> {
    const entry = { actor, action: MOVE_VERSION_ACTION, transactionId: null, reason };
    const what = `${move.from.name}@${move.from.version} to ${move.to.name}@${move.to.version}`;
    try {
      const { result, recorded } = await this.moves.move(move, (moved) =>
        this.audit.record({
          ...entry,
          outcome: 'succeeded',
          errorCode: null,
          detail: `${moved.moved} open saga(s) moved from ${what} (hash ${moved.to.hash})`,
        }),
      );
      return {
        success: true,
        message: `${result.moved} open saga(s) moved from ${what}`,
        ...result,
        audit: recorded,
      };
    } catch (error) {
      if (error instanceof DomainError && error.code === 'VALIDATION_FAILED') throw error;
      await this.audit.record({
        ...entry,
        outcome: error instanceof DomainError ? 'refused' : 'failed',
        errorCode: error instanceof DomainError ? error.code : 'INTERNAL_ERROR',
        detail:
          error instanceof DomainError
            ? `${what}: ${error.message}`
            : `${what}: the move failed on an internal error (see the service log)`,
      });
      throw error;
    }
  }
}
