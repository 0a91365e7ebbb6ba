import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsNotEmpty, IsObject, Matches, Max, Min, ValidateNested } from 'class-validator';
import { IsEntityId, IsPlainText } from '../../../common/http/dto-validators';
import { MAX_REASON_LENGTH } from './console.dto';

/** A saga definition version, as saga rows name it. */
export class DefinitionRefDto {
  @IsEntityId({ example: 'purchase', description: 'The definition name' })
  name!: string;

  @ApiProperty({ minimum: 1, example: 1 })
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  version!: number;
}

/** `POST /admin/saga-versions/move`: which version's open sagas go onto which, and why. */
export class SagaVersionMoveDto {
  @ApiProperty({ type: DefinitionRefDto, example: { name: 'purchase', version: 2 } })
  @IsObject()
  @ValidateNested()
  @Type(() => DefinitionRefDto)
  from!: DefinitionRefDto;

  @ApiProperty({
    type: DefinitionRefDto,
    example: { name: 'purchase', version: 1 },
    description: 'A version this instance registers',
  })
  @IsObject()
  @ValidateNested()
  @Type(() => DefinitionRefDto)
  to!: DefinitionRefDto;

  @IsPlainText(MAX_REASON_LENGTH, {
    description: 'Why: written to the audit log with who, when and the outcome',
    example: 'Rollback of release 2026.12.1: its v2 sagas go on as v1',
  })
  @IsNotEmpty()
  @Matches(/\S/, { message: 'reason must not be blank' })
  reason!: string;
}
