import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { createHash, randomUUID } from 'node:crypto';
import { isDatabaseUnavailable } from '../../common/errors/database-errors';
import { DomainError } from '../../common/errors/domain-error';
import { centsToString, jsonNumberToCents, toCents } from '../../common/money';
import type { AppConfig, SagaConfig, SagaPattern } from '../../config/configuration';
import { TransactionHost } from '../../database/transaction-host';
import { ItemsService } from '../items/items.service';
import type { PurchaseDto } from './dto/purchase.dto';
import { INSTANCE_ID } from './engine/instance-id';
import { SagaWaiters } from './engine/saga-waiters';
import { SagaEngines } from './engine/saga-engines';
import { PatternControl } from './pattern-control';
import { SAGA_CHANGED, SagaChangedEvent } from './saga-changed.event';
import { isTerminal, PurchaseResult, toPurchaseResult } from './saga.mapper';
import { SagaRepository } from './saga.repository';
import type { SagaError } from './saga.types';

export interface PurchaseOptions {
  idempotencyKey?: string;
  /** Answer 202 as soon as the saga is recorded (`Prefer: respond-async`). */
  respondAsync?: boolean;
  /** The route's own pattern (POST /purchase/choreography). */
  pattern?: SagaPattern;
}

function requestHash(dto: PurchaseDto, pattern: SagaPattern): string {
  const price = dto.price === undefined ? null : centsToString(jsonNumberToCents(dto.price));
  const canonical = JSON.stringify([dto.userId, dto.itemId, dto.quantity, price, pattern]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Starts purchases: fixes the server's price, records the saga (once per idempotency key), hands
 * it to its pattern's engine and waits for the outcome up to PURCHASE_WAIT_MS.
 */
@Injectable()
export class PurchaseService {
  private readonly logger = new Logger(PurchaseService.name);
  private readonly config: SagaConfig;

  constructor(
    private readonly sagas: SagaRepository,
    private readonly items: ItemsService,
    private readonly engines: SagaEngines,
    private readonly patterns: PatternControl,
    private readonly waiters: SagaWaiters,
    private readonly tx: TransactionHost,
    private readonly events: EventEmitter2,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('saga', { infer: true });
  }

  async purchase(dto: PurchaseDto, options: PurchaseOptions = {}): Promise<PurchaseResult> {
    const pattern = options.pattern ?? dto.pattern ?? this.patterns.current;
    const hash = requestHash(dto, pattern);
    const { total, error } = await this.price(dto);
    const record = async () => {
      const row = await this.sagas.insert({
        transactionId: `TXN_${randomUUID()}`,
        pattern,
        status: error === null ? 'pending' : 'failed',
        userId: dto.userId,
        itemId: dto.itemId,
        quantity: dto.quantity,
        total,
        idempotencyKey: options.idempotencyKey ?? null,
        requestHash: options.idempotencyKey === undefined ? null : hash,
        error,
        leaseOwner: INSTANCE_ID,
        leaseMs: this.config.leaseMs,
      });
      if (row === undefined || isTerminal(row.status)) return { row, initiated: undefined };
      return { row, initiated: await this.engines.initiate(row) };
    };
    // One statement needs no transaction of its own; a pattern that writes with it does.
    const recorded = this.engines.writesOnStart(pattern)
      ? await this.tx.run(record)
      : await record();
    const { row, initiated } = recorded;

    if (row === undefined) return this.replay(options.idempotencyKey ?? '', hash);
    const created: SagaChangedEvent = {
      transactionId: row.transaction_id,
      pattern: row.pattern,
      previousStatus: null,
      status: row.status,
      version: row.version,
      step: null,
      kind: null,
      outcome: null,
      durationMs: null,
      sagaAgeMs: isTerminal(row.status) ? 0 : null,
      at: row.created_at,
    };
    await this.events.emitAsync(SAGA_CHANGED, created);
    if (initiated === undefined) return toPurchaseResult(row, []);

    const waitMs = options.respondAsync === true ? 0 : this.config.purchaseWaitMs;
    try {
      await this.engines.start(initiated, waitMs);
      return await this.result(row.transaction_id);
    } catch (failure) {
      if (failure instanceof DomainError || !isDatabaseUnavailable(failure)) throw failure;
      // The saga is recorded: say so, so that the client can follow it instead of buying again.
      this.logger.warn(
        `Saga ${row.transaction_id} interrupted (${String(failure)}); recovery will finish it`,
      );
      return {
        ...toPurchaseResult(row, []),
        message:
          'The database could not be reached; the purchase is recorded and will be completed or undone by recovery',
        error: {
          step: null,
          code: 'SERVICE_UNAVAILABLE',
          message: 'The database could not be reached',
        },
      };
    }
  }

  /** The server's total; a client price that differs, or an unknown item, refuses the purchase. */
  private async price(
    dto: PurchaseDto,
  ): Promise<{ total: string | null; error: SagaError | null }> {
    try {
      const quote = await this.items.quote(dto.itemId, dto.quantity);
      if (dto.price !== undefined && jsonNumberToCents(dto.price) !== toCents(quote.total)) {
        return {
          total: quote.total,
          error: {
            step: null,
            code: 'PRICE_MISMATCH',
            message: `Price mismatch: expected total ${quote.total}, got ${dto.price}`,
          },
        };
      }
      return { total: quote.total, error: null };
    } catch (error) {
      if (error instanceof DomainError) {
        return { total: null, error: { step: null, code: error.code, message: error.message } };
      }
      throw error;
    }
  }

  /** A repeated Idempotency-Key: the first request's answer, once its saga has settled. */
  private async replay(key: string, hash: string): Promise<PurchaseResult> {
    const existing = await this.sagas.findByIdempotencyKey(key);
    if (existing === undefined) throw new Error(`Saga of idempotency key ${key} vanished`);
    if (existing.request_hash !== hash) {
      throw new DomainError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with a different request body',
      );
    }
    if (!isTerminal(existing.status)) {
      await this.waiters.wait(existing.transaction_id, this.config.purchaseWaitMs);
    }
    return this.result(existing.transaction_id);
  }

  async result(transactionId: string): Promise<PurchaseResult> {
    const found = await this.sagas.findWithSteps(transactionId);
    if (found === undefined) throw new Error(`Saga ${transactionId} vanished`);
    return toPurchaseResult(found.row, found.steps);
  }
}
