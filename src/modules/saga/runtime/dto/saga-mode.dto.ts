import { ApiProperty } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { SAGA_PATTERNS, type SagaPattern } from '../../../../config/configuration';

export class SagaModeDto {
  @ApiProperty({ enum: SAGA_PATTERNS })
  @IsIn(SAGA_PATTERNS, { message: `mode must be one of ${SAGA_PATTERNS.join(', ')}` })
  mode!: SagaPattern;
}
