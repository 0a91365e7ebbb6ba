import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import { IsEntityId, IsMoneyAmount, IsOmittable } from '../../../../common/http/dto-validators';
import { SAGA_PATTERNS, type SagaPattern } from '../../../../config/configuration';

export const MAX_QUANTITY = 1000;

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

  @IsMoneyAmount(0, 1_000_000_000, {
    required: false,
    description: 'The total the client expects to pay; refused with PRICE_MISMATCH if it differs',
  })
  @IsOmittable()
  price?: number;

  @ApiPropertyOptional({ enum: SAGA_PATTERNS, description: 'Defaults to the current saga mode' })
  @IsOmittable()
  @IsIn(SAGA_PATTERNS)
  pattern?: SagaPattern;
}
