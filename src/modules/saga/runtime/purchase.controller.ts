import { applyDecorators, Body, Controller, Headers, HttpCode, Post, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { DomainError } from '../../../common/errors/domain-error';
import { RateLimit } from '../../../common/http/rate-limit';
import { PurchaseDto } from './dto/purchase.dto';
import { PurchaseService } from './purchase.service';
import type { PurchaseResult } from '../read-model/saga.mapper';
import { purchaseHttpStatus } from './purchase-http-status';

type PurchaseAnswer = PurchaseResult & { statusCode?: number; errorCode?: string };

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(header)) {
    throw new DomainError(
      'VALIDATION_FAILED',
      'Idempotency-Key must be 1-255 visible ASCII characters',
    );
  }
  return header;
}

/** The headers both purchase routes read. */
function PurchaseHeaders(): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'Same key + same body: the first answer (1-255 visible ASCII characters)',
    }),
    ApiHeader({
      name: 'Prefer',
      required: false,
      description: '`respond-async` answers 202 at once',
    }),
  );
}

@ApiTags('purchases')
@Controller('purchase')
@RateLimit('public')
export class PurchaseController {
  constructor(private readonly purchases: PurchaseService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Buy an item through the saga (pattern: the body, else the current mode)',
  })
  @PurchaseHeaders()
  @ApiResponse({ status: 200, description: 'Completed' })
  @ApiResponse({ status: 202, description: 'Still running; poll the Location' })
  @ApiResponse({ status: 404, description: 'USER_NOT_FOUND, ITEM_NOT_FOUND' })
  @ApiResponse({ status: 409, description: 'Refused by a business rule; nothing is charged' })
  purchase(
    @Body() dto: PurchaseDto,
    @Headers('idempotency-key') key: string | undefined,
    @Headers('prefer') prefer: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PurchaseAnswer> {
    return this.answer(reply, this.purchases.purchase(dto, this.options(key, prefer)));
  }

  @Post('choreography')
  @HttpCode(200)
  @ApiOperation({ summary: 'Buy an item through the choreographed saga' })
  @PurchaseHeaders()
  choreography(
    @Body() dto: PurchaseDto,
    @Headers('idempotency-key') key: string | undefined,
    @Headers('prefer') prefer: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PurchaseAnswer> {
    return this.answer(
      reply,
      this.purchases.purchase(dto, { ...this.options(key, prefer), pattern: 'choreography' }),
    );
  }

  private options(key: string | undefined, prefer: string | undefined) {
    return {
      idempotencyKey: idempotencyKey(key),
      respondAsync: /\brespond-async\b/i.test(prefer ?? ''),
    };
  }

  private async answer(
    reply: FastifyReply,
    pending: Promise<PurchaseResult>,
  ): Promise<PurchaseAnswer> {
    const result = await pending;
    const status = purchaseHttpStatus(result);
    void reply.status(status);
    // Where to follow a purchase that is not settled yet (also when the database went away).
    if (status === 202 || status === 503)
      void reply.header('Location', `/saga/${result.transactionId}`);
    if (status < 400) return result;
    return { statusCode: status, errorCode: result.error?.code ?? 'INTERNAL_ERROR', ...result };
  }
}
