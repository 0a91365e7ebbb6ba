import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsNotEmpty, Max, Min } from 'class-validator';
import {
  IsEmailAddress,
  IsOmittable,
  IsEntityId,
  IsMoneyAmount,
  IsPlainText,
} from '../../../common/http/dto-validators';
import { USER_STATUSES, type UserStatus } from '../../users/user-status';

const MAX_MONEY = 1_000_000_000;
const MAX_STOCK = 1_000_000_000;

export class CreateUserDto {
  @IsEntityId()
  userId!: string;

  @IsPlainText(100, { example: 'Jane Player' })
  @IsNotEmpty()
  name!: string;

  @IsEmailAddress({ required: false })
  @IsOmittable()
  email?: string;

  @IsMoneyAmount(0, MAX_MONEY, { description: 'Starting balance' })
  balance!: number;

  @ApiPropertyOptional({ enum: USER_STATUSES, default: 'active' })
  @IsOmittable()
  @IsIn(USER_STATUSES)
  status?: UserStatus;

  @IsMoneyAmount(0, MAX_MONEY, {
    required: false,
    description: 'Highest total of one purchase; 0 = no limit',
  })
  @IsOmittable()
  purchaseLimit?: number;
}

export class TopUpDto {
  @IsMoneyAmount(0.01, MAX_MONEY, { description: 'Amount added to the balance' })
  amount!: number;
}

export class UpdateUserStatusDto {
  @ApiProperty({ enum: USER_STATUSES })
  @IsIn(USER_STATUSES)
  status!: UserStatus;
}

export class CreateItemDto {
  @IsEntityId({ example: 'item-shield' })
  itemId!: string;

  @IsPlainText(100, { example: 'Iron Shield' })
  @IsNotEmpty()
  name!: string;

  @IsPlainText(1000, { required: false })
  @IsOmittable()
  description?: string;

  @IsMoneyAmount(0, MAX_MONEY, { description: 'Catalogue price of one unit' })
  price!: number;

  @ApiProperty({ minimum: 0, maximum: MAX_STOCK, example: 10 })
  @IsInt()
  @Min(0)
  @Max(MAX_STOCK)
  stock!: number;

  @ApiPropertyOptional({ default: true })
  @IsOmittable()
  @IsBoolean()
  isAvailable?: boolean;
}

export class UpdateItemDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_STOCK, description: 'Units added to stock' })
  @IsOmittable()
  @IsInt()
  @Min(1)
  @Max(MAX_STOCK)
  addStock?: number;

  @IsMoneyAmount(0, MAX_MONEY, { required: false, description: 'New catalogue price' })
  @IsOmittable()
  price?: number;

  @ApiPropertyOptional()
  @IsOmittable()
  @IsBoolean()
  isAvailable?: boolean;
}
