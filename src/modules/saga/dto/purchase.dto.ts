import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsNumber, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { SAGA_PATTERNS, type SagaPattern } from '../../../config/configuration';

export const MAX_QUANTITY = 1000;

export class PurchaseDto {
  @ApiProperty({ minLength: 1, maxLength: 50, example: 'user-123' })
  @IsString()
  @Length(1, 50)
  userId!: string;

  @ApiProperty({ minLength: 1, maxLength: 50, example: 'item-sword' })
  @IsString()
  @Length(1, 50)
  itemId!: string;

  @ApiProperty({ minimum: 1, maximum: MAX_QUANTITY, example: 1 })
  @IsInt()
  @Min(1)
  @Max(MAX_QUANTITY)
  quantity!: number;

  @ApiPropertyOptional({
    description: 'The total the client expects to pay; refused with PRICE_MISMATCH if it differs',
    example: 100,
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false, maxDecimalPlaces: 2 })
  @Min(0)
  @Max(1_000_000_000)
  price?: number;

  @ApiPropertyOptional({ enum: SAGA_PATTERNS, description: 'Defaults to the current saga mode' })
  @IsOptional()
  @IsIn(SAGA_PATTERNS)
  pattern?: SagaPattern;
}
