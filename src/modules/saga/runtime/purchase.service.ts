import { Injectable, Logger } from '@nestjs/common';
import { BatchOutcome, BatchQueue } from '../../../common/batch-queue';
import { ConfigService } from '@nestjs/config';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { createHash } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import { timeOrderedId } from '../../../common/time-ordered-id';
import {
  activeTraceParent,
  endWithError,
  inBatchSpan,
  traceParentOf,
  tracer,
} from '../../../common/tracing/tracer';
import { dataErrorMessage, isDatabaseUnavailable } from '../../../common/errors/database-errors';
import { DomainError } from '../../../common/errors/domain-error';
import { centsToString, jsonNumberToCents, toCents } from '../../../common/money';
import type { AppConfig, SagaConfig, SagaPattern } from '../../../config/configuration';
import { TransactionHost } from '../../../database/transaction-host';
import { ItemsService } from '../../items/items.service';
import type { PurchaseDto } from './dto/purchase.dto';
import { InstanceIdentity } from '../core/instance-identity';
import { SagaWaiters } from '../core/saga-waiters';
import { InitiatedSaga, SagaEngines } from './saga-engines';
import { PatternControl } from './pattern-control';
import { SAGA_CHANGED, sagaChanged } from '../core/saga-changed.event';
import { PurchaseResult, toPurchaseResult } from '../read-model/saga.mapper';
import { SagaViewCache } from '../read-model/saga-view.cache';
import { SagaRepository, type SagaRow } from '../core/saga.repository';
import type { SagaError } from '../core/saga';
import { isTerminal } from '../core/saga';

export interface PurchaseOptions {
  idempotencyKey?: string;
  /** Answer 202 as soon as the saga is recorded (`Prefer: respond-async`). */
  respondAsync?: boolean;
  /** The route's own pattern (POST /purchase/choreography). */
  pattern?: SagaPattern;
}

/** A purchase on its way into the database. */
interface Intake {
  dto: PurchaseDto;
  pattern: SagaPattern;
  idempotencyKey: string | null;
  /** The request's hash, kept with its idempotency key (none without one). */
  hash: string | null;
  /** This purchase's `saga.record` span (a no-op one with tracing off). */
  span: Span;
  /** The trace its saga joins: the request's, else its own. */
  traceParent: string | null;
}

/** What recording a purchase gave: no row when its idempotency key was taken already. */
interface Recorded {
  row: SagaRow | undefined;
  initiated: InitiatedSaga | undefined;
}

/** A purchase's answer, and the saga row's version it shows. */
interface Shown {
  result: PurchaseResult;
  version: number;
}

/** The server's total; a client price that differs, or an unknown item, refuses the purchase. */
function priced(
  dto: PurchaseDto,
  quote: { total: string } | DomainError,
): { total: string | null; error: SagaError | null } {
  if (quote instanceof DomainError) {
    return { total: null, error: { step: null, code: quote.code, message: quote.message } };
  }
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
  /** Purchases being answered, and who waits for there to be none (shutdown). */
  private answering = 0;
  private idle: (() => void) | undefined;
  private readonly intake = new BatchQueue<Intake, Recorded>(
    (intakes) => this.recordBatch(intakes),
    { maxBatch: 128, concurrency: 2 },
  );
  private readonly reads = new BatchQueue<string, Shown>(
    (transactionIds) => this.readResults(transactionIds),
    { maxBatch: 128, concurrency: 2 },
  );

  constructor(
    private readonly sagas: SagaRepository,
    private readonly items: ItemsService,
    private readonly engines: SagaEngines,
    private readonly patterns: PatternControl,
    private readonly waiters: SagaWaiters,
    private readonly tx: TransactionHost,
    private readonly events: EventEmitter2,
    private readonly identity: InstanceIdentity,
    private readonly views: SagaViewCache,
    config: ConfigService<AppConfig, true>,
  ) {
    this.config = config.get('saga', { infer: true });
  }

  async purchase(dto: PurchaseDto, options: PurchaseOptions = {}): Promise<PurchaseResult> {
    if (this.identity.draining) {
      // Nothing recorded: the client can send it again, to another instance.
      throw new DomainError('SERVICE_UNAVAILABLE', 'This instance is shutting down; try again');
    }
    this.answering += 1;
    try {
      return await this.answer(dto, options);
    } finally {
      this.answering -= 1;
      if (this.answering === 0) this.idle?.();
    }
  }

  /**
   * On shutdown, once no saga moves here any more: resolves when every purchase under way has been
   * answered (even one whose client has gone), so that none reads from a closed pool; at most `ms`.
   */
  async answered(ms: number): Promise<void> {
    if (this.answering === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => (this.idle = resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]);
    clearTimeout(timer);
  }

  private async answer(dto: PurchaseDto, options: PurchaseOptions): Promise<PurchaseResult> {
    const pattern = options.pattern ?? dto.pattern ?? this.patterns.current;
    const key = options.idempotencyKey;
    const hash = key === undefined ? null : requestHash(dto, pattern);
    const span = tracer.startSpan('saga.record');
    let recorded: Recorded;
    try {
      recorded = await this.intake.submit({
        dto,
        pattern,
        idempotencyKey: key ?? null,
        hash,
        span,
        traceParent: activeTraceParent() ?? traceParentOf(span),
      });
    } catch (error) {
      endWithError(span, error);
      throw error;
    }
    const { row, initiated } = recorded;
    if (span.isRecording()) {
      span.setAttributes({
        'saga.pattern': pattern,
        'saga.replayed': row === undefined,
        ...(row === undefined
          ? {}
          : { 'saga.transaction_id': row.transaction_id, 'saga.status': row.status }),
      });
    }
    span.end();

    // Only a purchase with an idempotency key can find its saga recorded already.
    const waitMs = options.respondAsync === true ? 0 : this.config.purchaseWaitMs;
    if (row === undefined) return this.replay(key ?? '', hash ?? '', waitMs);
    const created = sagaChanged(
      {
        context: { transactionId: row.transaction_id, pattern: row.pattern },
        status: row.status,
        version: row.version,
        startedAt: row.created_at,
      },
      null,
      null,
      row.created_at,
    );
    await this.events.emitAsync(SAGA_CHANGED, created);
    if (initiated === undefined) return toPurchaseResult(row, []);

    try {
      await initiated.start(waitMs);
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

  /** A batch of purchases, traced as one `saga.record_batch` linked from each purchase's span. */
  private recordBatch(intakes: Intake[]): Promise<BatchOutcome<Recorded>[]> {
    return inBatchSpan(
      'saga.record_batch',
      intakes.map(({ span }) => span),
      { 'saga.batch.size': intakes.length },
      () => this.recordInBatch(intakes),
    );
  }

  /**
   * A value that the database refuses (which validation should have caught) fails its own
   * purchase only: the batch, rolled back whole, is recorded again one purchase at a time.
   */
  private async recordInBatch(intakes: Intake[]): Promise<BatchOutcome<Recorded>[]> {
    try {
      return (await this.record(intakes)).map((value) => ({ kind: 'value', value }));
    } catch (error) {
      if (intakes.length === 1 || dataErrorMessage(error) === undefined) throw error;
      return Promise.all(
        intakes.map((intake) =>
          this.record([intake]).then(
            ([value]): BatchOutcome<Recorded> => ({ kind: 'value', value }),
            (failure: unknown): BatchOutcome<Recorded> => ({ kind: 'error', error: failure }),
          ),
        ),
      );
    }
  }

  /**
   * Records a batch of purchases in one transaction: prices them at the catalogue's current
   * prices, inserts their sagas (once per idempotency key), and lets their patterns write what
   * starts them. A purchase refused here (unknown item, price mismatch) is recorded `failed`.
   */
  private record(intakes: Intake[]): Promise<Recorded[]> {
    return this.tx.run(async () => {
      const quotes = await this.items.quoteMany(
        intakes.map(({ dto }) => ({ itemId: dto.itemId, quantity: dto.quantity })),
      );
      const rows = await this.sagas.insertMany(
        intakes.map(({ dto, pattern, idempotencyKey, hash, traceParent }, index) => {
          const { total, error } = priced(dto, quotes[index]);
          return {
            transactionId: `TXN_${timeOrderedId()}`,
            pattern,
            status: error === null ? 'pending' : 'failed',
            userId: dto.userId,
            itemId: dto.itemId,
            quantity: dto.quantity,
            total,
            idempotencyKey,
            requestHash: hash,
            error,
            leaseOwner: this.identity.id,
            leaseMs: this.config.leaseMs,
            traceParent,
          };
        }),
      );
      // What the patterns write to start their sagas leaves with the COMMIT.
      const [started] = await Promise.all([
        this.engines.initiate(
          rows.filter((row): row is SagaRow => row !== undefined && !isTerminal(row.status)),
        ),
        this.tx.commit(),
      ]);
      const initiated = new Map(started.map((one) => [one.saga.context.transactionId, one]));
      return rows.map((row) => ({
        row,
        initiated: row === undefined ? undefined : initiated.get(row.transaction_id),
      }));
    });
  }

  private async readResults(transactionIds: string[]): Promise<BatchOutcome<Shown>[]> {
    const found = await this.sagas.findManyWithSteps(transactionIds);
    return found.map((saga, index) =>
      saga === undefined
        ? { kind: 'error', error: new Error(`Saga ${transactionIds[index]} vanished`) }
        : {
            kind: 'value',
            value: { result: toPurchaseResult(saga.row, saga.steps), version: saga.row.version },
          },
    );
  }

  /**
   * A repeated Idempotency-Key: the first request's answer, once its saga has settled (or
   * `waitMs` passed: the answer is then the saga as it stands, 202).
   */
  private async replay(key: string, hash: string, waitMs: number): Promise<PurchaseResult> {
    const existing = await this.sagas.findByIdempotencyKey(key);
    if (existing === undefined) throw new Error(`Saga of idempotency key ${key} vanished`);
    if (existing.request_hash !== hash) {
      throw new DomainError(
        'IDEMPOTENCY_KEY_REUSED',
        'This Idempotency-Key was used with a different request body',
      );
    }
    if (!isTerminal(existing.status) && waitMs > 0) {
      await this.waiters.wait(existing.transaction_id, waitMs);
    }
    return this.result(existing.transaction_id);
  }

  /**
   * A purchase's answer as the database has it now, once the view cache serves nothing older: a
   * client shown a state must never read an older one after it.
   */
  async result(transactionId: string): Promise<PurchaseResult> {
    const { result, version } = await this.reads.submit(transactionId);
    await this.views.keepFrom(transactionId, version);
    return result;
  }
}
