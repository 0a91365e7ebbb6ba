import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  isISO8601,
  Max,
  Min,
  ValidateBy,
  ValidationArguments,
  ValidationOptions,
} from 'class-validator';
import { IsEntityId, IsIdentifier, IsPlainText } from '../../../common/http/dto-validators';
import {
  decodeSagaCursor,
  type SagaAttentionState,
} from '../../saga/read-model/saga-reports.service';
import { SAGA_PATTERNS, type SagaPattern } from '../../../config/configuration';
import { type SagaStatus, SAGA_STATUSES } from '../../saga/core/saga';

export const DEFAULT_PAGE_SIZE = 20;
/** Larger `limit` values are lowered to this, not refused. */
export const MAX_PAGE_SIZE = 100;
const MAX_PAGE = 1_000_000;

/** A date (`2025-01-31`, midnight UTC) or a date-time with its offset (`...T10:00:00Z`). */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/** A query-string integer: only plain digits become a number; anything else fails validation. */
export function toInteger(value: unknown): unknown {
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
}

export function clampPageSize(value: unknown): unknown {
  const parsed = toInteger(value);
  return typeof parsed === 'number' && parsed > MAX_PAGE_SIZE ? MAX_PAGE_SIZE : parsed;
}

export function isTimestamp(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    TIMESTAMP.test(value) &&
    isISO8601(value, { strict: true }) &&
    !Number.isNaN(Date.parse(value))
  );
}

function IsTimestamp(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isTimestamp',
      validator: {
        validate: (value: unknown) => isTimestamp(value),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'value'} must be a date (YYYY-MM-DD) or an ISO 8601 date-time with an offset`,
      },
    },
    options,
  );
}

/** Fails when this timestamp is later than the one in `other` (both given and valid). */
function IsNotAfter(other: string, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isNotAfter',
      constraints: [other],
      validator: {
        validate: (value: unknown, args?: ValidationArguments) => {
          const bound = (args?.object as Record<string, unknown> | undefined)?.[other];
          if (!isTimestamp(value) || !isTimestamp(bound)) return true;
          return Date.parse(value) <= Date.parse(bound);
        },
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'value'} must not be after ${other}`,
      },
    },
    options,
  );
}

/** The listing's status filter: a saga status, or a state needing an operator's attention. */
export const LISTING_STATUSES: readonly (SagaStatus | SagaAttentionState)[] = [
  ...SAGA_STATUSES,
  'stuck',
  'compensation_failed',
];

function IsSagaCursor(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isSagaCursor',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && decodeSagaCursor(value) !== undefined,
        defaultMessage: () => 'cursor must be a nextCursor of an earlier page',
      },
    },
    options,
  );
}

/** `GET /admin/sagas` query: paging and filters; anything else in the query string is refused. */
export class ListSagasQuery {
  @ApiPropertyOptional({ minimum: 1, default: 1 })
  @IsOptional()
  @Transform(({ value }) => toInteger(value))
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  page: number = 1;

  @ApiPropertyOptional({
    minimum: 1,
    default: DEFAULT_PAGE_SIZE,
    description: `Page size; values above ${MAX_PAGE_SIZE} are lowered to ${MAX_PAGE_SIZE}`,
  })
  @IsOptional()
  @Transform(({ value }) => clampPageSize(value))
  @IsInt()
  @Min(1)
  limit: number = DEFAULT_PAGE_SIZE;

  @ApiPropertyOptional({
    enum: LISTING_STATUSES,
    description:
      'A status, or `stuck` (open, and past its lease or older than SAGA_TIMEOUT_MS) or `compensation_failed` (failed by a compensation that gave up)',
  })
  @IsOptional()
  @IsIn(LISTING_STATUSES)
  status?: SagaStatus | SagaAttentionState;

  @ApiPropertyOptional({ enum: SAGA_PATTERNS })
  @IsOptional()
  @IsIn(SAGA_PATTERNS)
  pattern?: SagaPattern;

  @IsEntityId({ required: false })
  @IsOptional()
  userId?: string;

  @IsEntityId({ required: false, example: 'item-sword' })
  @IsOptional()
  itemId?: string;

  @IsIdentifier('transaction', { required: false, description: 'Look one saga up by its id' })
  @IsOptional()
  transactionId?: string;

  @IsPlainText(255, {
    required: false,
    description: 'Look a saga up by the Idempotency-Key of its purchase',
    example: 'order-4711',
  })
  @IsOptional()
  idempotencyKey?: string;

  @ApiPropertyOptional({
    description:
      'Keyset paging: the nextCursor of the previous page; the page after it (then page is not used)',
  })
  @IsOptional()
  @IsSagaCursor()
  cursor?: string;

  @ApiPropertyOptional({
    description: 'Created at or after (YYYY-MM-DD = midnight UTC, or a date-time with offset)',
    example: '2025-01-01T00:00:00Z',
  })
  @IsOptional()
  @IsTimestamp()
  @IsNotAfter('dateTo')
  dateFrom?: string;

  @ApiPropertyOptional({
    description: 'Created at or before (YYYY-MM-DD = midnight UTC, or a date-time with offset)',
    example: '2025-12-31T23:59:59Z',
  })
  @IsOptional()
  @IsTimestamp()
  dateTo?: string;
}
