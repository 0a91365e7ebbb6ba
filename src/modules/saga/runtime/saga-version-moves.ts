import { Injectable, Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DomainError } from '../../../common/errors/domain-error';
import { TransactionHost } from '../../../database/transaction-host';
import { moveIncompatibility } from '../core/definition/definition-move';
import type { SagaDefinitionRef } from '../core/definition/saga-definition';
import { REGISTERED_DEFINITIONS, registeredDefinition } from '../core/definition/saga-definitions';
import { InstanceIdentity } from '../core/instance-identity';
import { SAGA_CHANGED, sagaChanged } from '../core/saga-changed.event';
import { SagaRepository } from '../core/saga.repository';
import { SagaVersions } from '../core/saga-versions';
import { SagaRecovery } from './saga-recovery';

export interface VersionMove {
  from: SagaDefinitionRef;
  to: SagaDefinitionRef;
}

export interface VersionMoveResult {
  /** How many open sagas moved. */
  moved: number;
  from: SagaDefinitionRef;
  /** The definition they now run, with the hash their rows record. */
  to: SagaDefinitionRef & { hash: string };
}

/** Sagas named in a refusal's details, at most. */
const LISTED = 20;
/** Moved sagas whose change the observers (the cache) are told of at once. */
const OBSERVED_AT_ONCE = 500;

const nameOf = (ref: SagaDefinitionRef): string => `${ref.name}@${ref.version}`;

/**
 * An admin's explicit move of the open sagas of one definition version onto another that this
 * build registers: all of them, or none when one of them could not go on under the target
 * (its steps so far differ). The move fences out whoever drove them and lets go of their leases,
 * so that recovery, on an instance that has the target, takes them on from where they stand.
 */
@Injectable()
export class SagaVersionMoves {
  private readonly logger = new Logger(SagaVersionMoves.name);

  constructor(
    private readonly sagas: SagaRepository,
    private readonly tx: TransactionHost,
    private readonly versions: SagaVersions,
    private readonly recovery: SagaRecovery,
    private readonly identity: InstanceIdentity,
    private readonly events: EventEmitter2,
  ) {}

  /**
   * Moves the open sagas of `from` onto `to`; `record` runs in the move's transaction with its
   * result (its audit entry: the move and its record commit together).
   */
  async move<T>(
    { from, to }: VersionMove,
    record: (result: VersionMoveResult) => Promise<T>,
  ): Promise<{ result: VersionMoveResult; recorded: T }> {
    if (from.name === to.name && from.version === to.version) {
      throw new DomainError('VALIDATION_FAILED', 'from and to name the same definition version');
    }
    const target = registeredDefinition(to);
    if (target === undefined) {
      throw new DomainError(
        'SAGA_VERSION_NOT_REGISTERED',
        `${to.name} version ${to.version} is not registered in this build (it has ${REGISTERED_DEFINITIONS.map(nameOf).join(', ')}): sagas can only be moved onto a version it drives`,
      );
    }
    const { moved, result, recorded } = await this.tx.run(async () => {
      const open = await this.sagas.lockOpenOfDefinition(from);
      const refused = open.flatMap((saga) => {
        const why = moveIncompatibility(
          {
            status: saga.status,
            currentStep: saga.current_step,
            completed: saga.completed,
            compensated: saga.compensated,
          },
          target.definition,
        );
        return why === undefined ? [] : [{ transactionId: saga.transaction_id, reason: why }];
      });
      const [first] = refused;
      if (first !== undefined) {
        throw new DomainError(
          'SAGA_VERSION_INCOMPATIBLE',
          `${refused.length} of the ${open.length} open saga(s) of ${nameOf(from)} cannot go on as ${nameOf(to)} ` +
            `(${first.transactionId}: ${first.reason}); none was moved`,
          { incompatible: refused.length, sagas: refused.slice(0, LISTED) },
        );
      }
      const rows =
        open.length === 0
          ? []
          : await this.sagas.moveToDefinition(
              open.map((saga) => saga.transaction_id),
              target,
            );
      const result: VersionMoveResult = {
        moved: rows.length,
        from: { name: from.name, version: from.version },
        to: { name: target.name, version: target.version, hash: target.hash },
      };
      return { moved: rows, result, recorded: await record(result) };
    });
    const said = `Moved ${moved.length} open saga(s) from ${nameOf(from)} to ${nameOf(to)}`;
    if (moved.length > 0) this.logger.warn(said);
    else this.logger.log(said);
    // Their views name the new definition: the cache drops what it held of them (a few hundred
    // at a time: a move may take many sagas).
    for (let start = 0; start < moved.length; start += OBSERVED_AT_ONCE) {
      await Promise.all(
        moved.slice(start, start + OBSERVED_AT_ONCE).map((row) =>
          this.events
            .emitAsync(
              SAGA_CHANGED,
              sagaChanged(
                {
                  context: { transactionId: row.transaction_id, pattern: row.pattern },
                  status: row.status,
                  version: row.version,
                  startedAt: row.created_at,
                },
                row.status,
                null,
              ),
            )
            .catch((error: unknown) =>
              this.logger.error(
                `An observer of saga ${row.transaction_id} failed: ${String(error)}`,
              ),
            ),
        ),
      );
    }
    await this.versions.refresh();
    if (moved.length > 0) {
      this.recovery.claimSoon();
      // The other instances claim them now too (one that has the target takes them).
      await this.identity.announceReleased();
    }
    return { result, recorded };
  }
}
