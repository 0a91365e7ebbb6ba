import { Body, Controller, HttpCode, Patch, Post, UseGuards } from '@nestjs/common';
import { IdParam } from '../../common/http/dto-validators';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../common/auth/admin.guard';
import { DomainError } from '../../common/errors/domain-error';
import { centsToString, jsonNumberToCents } from '../../common/money';
import { ItemView, ItemsService } from '../items/items.service';
import { UserView, UsersService } from '../users/users.service';
import {
  CreateItemDto,
  CreateUserDto,
  TopUpDto,
  UpdateItemDto,
  UpdateUserStatusDto,
} from './dto/upkeep.dto';

const money = (value: number): string => centsToString(jsonNumberToCents(value));

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin')
export class UpkeepController {
  constructor(
    private readonly users: UsersService,
    private readonly items: ItemsService,
  ) {}

  @Post('users')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create a user' })
  createUser(@Body() dto: CreateUserDto): Promise<UserView> {
    return this.users.create({
      userId: dto.userId,
      name: dto.name,
      email: dto.email,
      balance: money(dto.balance),
      status: dto.status ?? 'active',
      purchaseLimit: money(dto.purchaseLimit ?? 0),
    });
  }

  @Post('users/:userId/top-up')
  @HttpCode(200)
  @ApiOperation({ summary: "Add to a user's balance" })
  topUp(@IdParam('userId') userId: string, @Body() dto: TopUpDto): Promise<UserView> {
    return this.users.topUp(userId, money(dto.amount));
  }

  @Patch('users/:userId')
  @ApiOperation({ summary: "Change a user's status (active, suspended, closed)" })
  setStatus(
    @IdParam('userId') userId: string,
    @Body() dto: UpdateUserStatusDto,
  ): Promise<UserView> {
    return this.users.setStatus(userId, dto.status);
  }

  @Post('items')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an item' })
  createItem(@Body() dto: CreateItemDto): Promise<ItemView> {
    return this.items.create({
      itemId: dto.itemId,
      name: dto.name,
      description: dto.description,
      price: money(dto.price),
      stock: dto.stock,
      isAvailable: dto.isAvailable ?? true,
    });
  }

  @Patch('items/:itemId')
  @ApiOperation({ summary: 'Restock an item, change its price or availability' })
  updateItem(@IdParam('itemId') itemId: string, @Body() dto: UpdateItemDto): Promise<ItemView> {
    if (dto.addStock === undefined && dto.price === undefined && dto.isAvailable === undefined) {
      throw new DomainError(
        'VALIDATION_FAILED',
        'Give at least one of addStock, price, isAvailable',
      );
    }
    return this.items.update(itemId, {
      addStock: dto.addStock,
      price: dto.price === undefined ? undefined : money(dto.price),
      isAvailable: dto.isAvailable,
    });
  }
}
