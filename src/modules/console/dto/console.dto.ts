import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsNotEmpty, IsOptional, Matches, Min } from 'class-validator';
import { IsIdentifier, IsPlainText } from '../../../common/http/dto-validators';
import { clampPageSize } from '../../admin/dto/list-sagas.query';

export const MAX_REASON_LENGTH = 500;

/** `POST /admin/sagas/:transactionId/compensate`: why the operator acts, for the audit log. */
export class SagaActionDto {
  @IsPlainText(MAX_REASON_LENGTH, {
    description: 'Why: written to the audit log with who, when and the outcome',
    example: 'Customer support ticket 4711: payment provider confirmed the refund',
  })
  @IsNotEmpty()
  @Matches(/\S/, { message: 'reason must not be blank' })
  reason!: string;
}

/** `GET /admin/audit`: newest first, `before` the `nextBefore` of the previous page. */
export class ListAuditQuery {
  @ApiPropertyOptional({ minimum: 1, default: 50, description: 'Page size; above 100 is 100' })
  @IsOptional()
  @Transform(({ value }) => clampPageSize(value))
  @IsInt()
  @Min(1)
  limit: number = 50;

  @ApiPropertyOptional({ description: 'Entries older than this id (a previous nextBefore)' })
  @IsOptional()
  @Matches(/^[1-9]\d{0,17}$/, { message: 'before must be an entry id (a positive integer)' })
  before?: string;

  @IsIdentifier('transaction', { required: false, description: 'Only the entries of this saga' })
  @IsOptional()
  transactionId?: string;
}
