import { Controller, Get } from '@nestjs/common';
import { IdParam } from '../../common/http/dto-validators';
import { RateLimit } from '../../common/http/rate-limit';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ItemView, ItemsService } from './items.service';

@ApiTags('items')
@Controller('items')
@RateLimit('public')
export class ItemsController {
  constructor(private readonly items: ItemsService) {}

  @Get()
  @ApiOperation({ summary: 'The catalogue' })
  list(): Promise<ItemView[]> {
    return this.items.list();
  }

  @Get(':itemId')
  @ApiOperation({ summary: 'One item' })
  get(@IdParam('itemId') itemId: string): Promise<ItemView> {
    return this.items.get(itemId);
  }
}
