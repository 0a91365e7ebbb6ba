import { Injectable } from '@nestjs/common';
import { ItemsService } from '../../../items/items.service';
import { UsersService } from '../../../users/users.service';
import type { SagaContext, StepData } from '../saga';
import type { SagaStep, StepAttempt } from './saga-step';

/** Step 2: the item is available with the stock; take it and put it in the user's inventory. */
@Injectable()
export class ItemGrantStep implements SagaStep {
  readonly name = 'item_grant' as const;

  constructor(
    private readonly items: ItemsService,
    private readonly users: UsersService,
  ) {}

  async execute(contexts: readonly SagaContext[]): Promise<StepAttempt[]> {
    const reservations = await this.items.reserveForPurchases(
      contexts.map((context) => ({ itemId: context.itemId, quantity: context.quantity })),
    );
    const granted = contexts.filter((_, index) => reservations[index].kind === 'value');
    const owned = await this.users.addToInventories(
      granted.map((context) => ({
        userId: context.userId,
        itemId: context.itemId,
        quantity: context.quantity,
      })),
    );
    const grantedAt = new Date().toISOString();
    let next = 0;
    return reservations.map((reservation, index): StepAttempt => {
      if (reservation.kind !== 'value') return reservation;
      const context = contexts[index];
      const after = owned[next++];
      return {
        kind: 'value',
        value: {
          userId: context.userId,
          itemId: context.itemId,
          quantity: context.quantity,
          grantedAt,
          stockSnapshot: {
            before: reservation.value.stockBefore,
            after: reservation.value.stockAfter,
          },
          userInventorySnapshot: { before: after - context.quantity, after },
        },
      };
    });
  }

  async compensate(context: SagaContext): Promise<StepData> {
    // Item row first, then inventory: the order forward batches lock them in.
    const stock = await this.items.releaseReservation(context.itemId, context.quantity);
    const owned = await this.users.removeFromInventory(
      context.userId,
      context.itemId,
      context.quantity,
    );
    return {
      itemId: context.itemId,
      quantity: context.quantity,
      stockAfter: stock.stockAfter,
      userQuantityAfter: owned,
    };
  }
}
