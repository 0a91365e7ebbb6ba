import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptions } from '@nestjs/swagger';
import { IsNotEmpty, IsNumber, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

/** A user or item id: 1-50 characters of letters, digits, `.`, `_`, `:`, `-`. */
export function IsEntityId(options: ApiPropertyOptions = {}): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      minLength: 1,
      maxLength: 50,
      example: 'user-123',
      ...options,
    }),
    IsString(),
    IsNotEmpty(),
    MaxLength(50),
    Matches(ID_PATTERN, {
      message: '$property may hold only letters, digits, ".", "_", ":" and "-"',
    }),
  );
}

/** An amount of money as a JSON number with at most 2 decimals. */
export function IsMoneyAmount(
  min: number,
  max: number,
  options: ApiPropertyOptions = {},
): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      type: Number,
      minimum: min,
      maximum: max,
      example: 100,
      ...options,
    }),
    IsNumber({ allowNaN: false, allowInfinity: false, maxDecimalPlaces: 2 }),
    Min(min),
    Max(max),
  );
}
