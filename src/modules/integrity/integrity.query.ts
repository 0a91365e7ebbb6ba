import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { INTEGRITY_MODES, type IntegrityMode } from './integrity.service';

export class IntegrityQuery {
  @ApiPropertyOptional({
    enum: INTEGRITY_MODES,
    default: 'incremental',
    description:
      '`incremental`: what changed since the last run, in bounded slices; `full`: every user, item and saga and the rollups recounted (reads whole tables)',
  })
  @IsOptional()
  @IsIn(INTEGRITY_MODES)
  mode?: IntegrityMode;
}
