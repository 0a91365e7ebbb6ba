import { EventEmitter2 } from '@nestjs/event-emitter';
import { Logger } from '@nestjs/common';
import { DomainError } from '../../../common/errors/domain-error';
import type { TransactionHost } from '../../../database/transaction-host';
import { CURRENT_PURCHASE_DEFINITION } from '../core/definition/saga-definitions';
import type { InstanceIdentity } from '../core/instance-identity';
import { SAGA_CHANGED, type SagaChangedEvent } from '../core/saga-changed.event';
import type { OpenSagaOfDefinition, SagaRepository } from '../core/saga.repository';
import type { SagaVersions } from '../core/saga-versions';
import type { SagaRecovery } from './saga-recovery';
import { SagaVersionMoves } from './saga-version-moves';

const V1 = { name: 'purchase', version: 1 };
const V2 = { name: 'purchase', version: 2 };

function open(id: string, fields: Partial<OpenSagaOfDefinition> = {}): OpenSagaOfDefinition {
  return {
    transaction_id: id,
    pattern: 'orchestration',
    status: 'in_progress',
    current_step: 'user_validation',
    completed: ['user_validation'],
    compensated: [],
    ...fields,
  };
}

function movesOver(found: OpenSagaOfDefinition[]) {
  const lockOpenOfDefinition = jest.fn(() => Promise.resolve(found));
  const moveToDefinition = jest.fn((ids: readonly string[]) =>
    Promise.resolve(
      ids.map((id, index) => ({
        transaction_id: id,
        pattern: found[index].pattern,
        status: found[index].status,
        version: 5,
        created_at: new Date('2026-12-07T00:00:00Z'),
      })),
    ),
  );
  const sagas = { lockOpenOfDefinition, moveToDefinition } as Pick<
    SagaRepository,
    'lockOpenOfDefinition' | 'moveToDefinition'
  > as SagaRepository;
  const tx = { run: <T>(work: () => Promise<T>) => work() } as TransactionHost;
  const refresh = jest.fn(() => Promise.resolve());
  const claimSoon = jest.fn();
  const announceReleased = jest.fn(() => Promise.resolve());
  const events = new EventEmitter2();
  const changes: SagaChangedEvent[] = [];
  events.on(SAGA_CHANGED, (event: SagaChangedEvent) => changes.push(event));
  const moves = new SagaVersionMoves(
    sagas,
    tx,
    { refresh } as Pick<SagaVersions, 'refresh'> as SagaVersions,
    { claimSoon } as Pick<SagaRecovery, 'claimSoon'> as SagaRecovery,
    { announceReleased } as Pick<InstanceIdentity, 'announceReleased'> as InstanceIdentity,
    events,
  );
  return { moves, moveToDefinition, refresh, claimSoon, announceReleased, changes };
}

describe('SagaVersionMoves', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  it('moves them all, records the move in its transaction, tells the cache, the counts and recovery', async () => {
    const { moves, moveToDefinition, refresh, claimSoon, announceReleased, changes } = movesOver([
      open('TXN_A'),
      open('TXN_B', {
        pattern: 'choreography',
        status: 'pending',
        current_step: null,
        completed: [],
      }),
    ]);
    const record = jest.fn(() => Promise.resolve('audited'));
    const { result, recorded } = await moves.move({ from: V2, to: V1 }, record);
    expect(result).toEqual({
      moved: 2,
      from: V2,
      to: { ...V1, hash: CURRENT_PURCHASE_DEFINITION.hash },
    });
    expect(recorded).toBe('audited');
    expect(record).toHaveBeenCalledWith(result);
    expect(moveToDefinition).toHaveBeenCalledWith(['TXN_A', 'TXN_B'], CURRENT_PURCHASE_DEFINITION);
    expect(changes.map((c) => [c.transactionId, c.previousStatus, c.status, c.version])).toEqual([
      ['TXN_A', 'in_progress', 'in_progress', 5],
      ['TXN_B', 'pending', 'pending', 5],
    ]);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(claimSoon).toHaveBeenCalledTimes(1);
    expect(announceReleased).toHaveBeenCalledTimes(1);
  });

  it('moves none when one saga cannot go on under the target, and records nothing', async () => {
    const { moves, moveToDefinition, refresh } = movesOver([
      open('TXN_OK'),
      open('TXN_CAPPED', {
        current_step: 'spending_cap',
        completed: ['user_validation', 'spending_cap'],
      }),
    ]);
    const record = jest.fn(() => Promise.resolve(undefined));
    const refused = moves.move({ from: V2, to: V1 }, record);
    await expect(refused).rejects.toMatchObject({
      code: 'SAGA_VERSION_INCOMPATIBLE',
      details: {
        incompatible: 1,
        sagas: [{ transactionId: 'TXN_CAPPED', reason: expect.stringContaining('spending_cap') }],
      },
    });
    expect(moveToDefinition).not.toHaveBeenCalled();
    expect(record).not.toHaveBeenCalled();
    expect(refresh).not.toHaveBeenCalled();
  });

  it('refuses a target this build lacks, and the same version on both sides, before reading anything', async () => {
    const { moves, moveToDefinition } = movesOver([open('TXN_A')]);
    const record = jest.fn(() => Promise.resolve(undefined));
    await expect(moves.move({ from: V1, to: V2 }, record)).rejects.toMatchObject({
      code: 'SAGA_VERSION_NOT_REGISTERED',
    });
    const same = moves.move({ from: V1, to: { ...V1 } }, record);
    await expect(same).rejects.toBeInstanceOf(DomainError);
    await expect(same).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(moveToDefinition).not.toHaveBeenCalled();
    expect(record).not.toHaveBeenCalled();
  });

  it('answers 0 when no saga of the version is open, without waking recovery', async () => {
    const { moves, moveToDefinition, claimSoon, announceReleased, refresh } = movesOver([]);
    const { result } = await moves.move({ from: V2, to: V1 }, () => Promise.resolve(null));
    expect(result.moved).toBe(0);
    expect(moveToDefinition).not.toHaveBeenCalled();
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(claimSoon).not.toHaveBeenCalled();
    expect(announceReleased).not.toHaveBeenCalled();
  });
});
