import { Injectable } from '@nestjs/common';
import { ItemsService } from '../../items/items.service';
import { UsersService } from '../../users/users.service';
import type { SagaContext, StepData } from '../saga.types';
import type { SagaStep } from './saga-step';

/** Step 2: the item is available with the stock; take it and put it in the user's inventory. */
@Injectable()
export class ItemGrantStep implements SagaStep {
  readonly name = 'item_grant' as const;

  constructor(
    private readonly items: ItemsService,
    private readonly users: UsersService,
  ) {}

  async execute(context: SagaContext): Promise<StepData> {
    const stock = await this.items.reserveForPurchase(context.itemId, context.quantity);
    const owned = await this.users.addToInventory(context.userId, context.itemId, context.quantity);
    return {
      userId: context.userId,
      itemId: context.itemId,
      quantity: context.quantity,
      grantedAt: new Date().toISOString(),
      stockSnapshot: { before: stock.stockBefore, after: stock.stockAfter },
      userInventorySnapshot: { before: owned - context.quantity, after: owned },
    };
  }

  async compensate(context: SagaContext): Promise<StepData> {
    const owned = await this.users.removeFromInventory(
      context.userId,
      context.itemId,
      context.quantity,
    );
    const stock = await this.items.releaseReservation(context.itemId, context.quantity);
    return {
      itemId: context.itemId,
      quantity: context.quantity,
      stockAfter: stock.stockAfter,
      userQuantityAfter: owned,
    };
  }
}
