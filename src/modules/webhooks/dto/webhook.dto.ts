import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  type ValidationArguments,
} from 'class-validator';
import { IsOmittable, IsPlainText } from '../../../common/http/dto-validators';
import { INTEGRATION_EVENT_TYPES } from '../../events/integration-event';
import { urlProblem } from '../address-policy';

const MAX_URL = 2048;
const MAX_TYPES = 20;

/** An absolute http(s) URL without credentials (whether it may be reached is checked later). */
function IsWebhookUrl(): PropertyDecorator {
  return ValidateBy({
    name: 'isWebhookUrl',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && urlProblem(value) === undefined,
      defaultMessage: (args?: ValidationArguments) =>
        typeof args?.value === 'string'
          ? (urlProblem(args.value) ?? 'url is invalid')
          : 'url must be a string',
    },
  });
}

function EventTypes(required: boolean): PropertyDecorator {
  return (target, key) => {
    ApiProperty({
      required,
      type: [String],
      enum: INTEGRATION_EVENT_TYPES,
      minItems: 1,
      maxItems: MAX_TYPES,
      description: 'Integration event types sent to the endpoint (unknown types: 400)',
    })(target, key);
    IsArray()(target, key);
    ArrayMinSize(1)(target, key);
    ArrayMaxSize(MAX_TYPES)(target, key);
    IsString({ each: true })(target, key);
    MaxLength(40, { each: true })(target, key);
  };
}

export class CreateWebhookDto {
  @ApiProperty({ maxLength: MAX_URL, example: 'https://example.com/hooks/purchases' })
  @IsString()
  @MaxLength(MAX_URL)
  @IsWebhookUrl()
  url!: string;

  @EventTypes(true)
  events!: string[];

  @IsPlainText(500, { required: false, example: 'Order pipeline' })
  @IsOmittable()
  description?: string;
}

export class UpdateWebhookDto {
  @ApiPropertyOptional({ maxLength: MAX_URL })
  @IsOmittable()
  @IsString()
  @MaxLength(MAX_URL)
  @IsWebhookUrl()
  url?: string;

  @EventTypes(false)
  @IsOmittable()
  events?: string[];

  @IsPlainText(500, { required: false, description: 'An empty string clears it' })
  @IsOmittable()
  description?: string;

  @ApiPropertyOptional({ description: 'false pauses deliveries; true resumes and clears failures' })
  @IsOmittable()
  @IsBoolean()
  enabled?: boolean;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export class ListDeliveriesQuery {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOmittable()
  @IsIn(DELIVERY_STATUSES)
  status?: (typeof DELIVERY_STATUSES)[number];

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOmittable()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value,
  )
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 50;
}
