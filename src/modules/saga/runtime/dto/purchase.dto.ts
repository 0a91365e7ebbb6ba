import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import {
  IsEntityId,
  IsMoneyAmount,
  IsOmittable,
  isMoneyNumber,
} from '../../../../common/http/dto-validators';
import { isIdentifier } from '../../../../common/identifiers';
import { SAGA_PATTERNS, type SagaPattern } from '../../../../config/configuration';

export const MAX_QUANTITY = 1000;
const MAX_PRICE = 1_000_000_000;
const FIELDS = new Set(['userId', 'itemId', 'quantity', 'price', 'pattern']);

export class PurchaseDto {
  @IsEntityId()
  userId!: string;

  @IsEntityId({ example: 'item-sword' })
  itemId!: string;

  @ApiProperty({ minimum: 1, maximum: MAX_QUANTITY, example: 1 })
  @IsInt()
  @Min(1)
  @Max(MAX_QUANTITY)
  quantity!: number;

  @IsMoneyAmount(0, MAX_PRICE, {
    required: false,
    description: 'The total the client expects to pay; refused with PRICE_MISMATCH if it differs',
  })
  @IsOmittable()
  price?: number;

  @ApiPropertyOptional({ enum: SAGA_PATTERNS, description: 'Defaults to the current saga mode' })
  @IsOmittable()
  @IsIn(SAGA_PATTERNS)
  pattern?: SagaPattern;

  /**
   * The decorators above, checked by hand: a body they accept, as the validation pipe's fast path
   * (the hottest request; class-validator costs about a sixth of its CPU). Anything else goes
   * through class-validator, for its messages. A property test holds the two to the same answers.
   */
  static acceptsPlain(body: unknown): boolean {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
    const fields = body as Record<string, unknown>;
    for (const key of Object.keys(fields)) if (!FIELDS.has(key)) return false;
    const { userId, itemId, quantity, price, pattern } = fields;
    return (
      isIdentifier(userId, 'entity') &&
      isIdentifier(itemId, 'entity') &&
      Number.isInteger(quantity) &&
      (quantity as number) >= 1 &&
      (quantity as number) <= MAX_QUANTITY &&
      (price === undefined || (isMoneyNumber(price) && price >= 0 && price <= MAX_PRICE)) &&
      (pattern === undefined || (SAGA_PATTERNS as readonly unknown[]).includes(pattern))
    );
  }
}
