import { Injectable } from '@nestjs/common';
import type { BatchOutcome } from '../../common/batch-queue';
import { DomainError, NotFoundError } from '../../common/errors/domain-error';
import { moneyToJson } from '../../common/money';
import { ItemRow, ItemsRepository } from './items.repository';

export interface ItemView {
  itemId: string;
  name: string;
  description: string | null;
  price: number;
  stock: number;
  isAvailable: boolean;
  createdAt: Date;
  updatedAt: Date;
}

function toView(row: ItemRow): ItemView {
  return {
    itemId: row.item_id,
    name: row.name,
    description: row.description,
    price: moneyToJson(row.price) ?? 0,
    stock: row.stock,
    isAvailable: row.is_available,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function itemNotFound(itemId: string): NotFoundError {
  return new NotFoundError('ITEM_NOT_FOUND', `Item not found: ${itemId}`);
}

@Injectable()
export class ItemsService {
  constructor(private readonly items: ItemsRepository) {}

  async list(): Promise<ItemView[]> {
    return (await this.items.findAll()).map(toView);
  }

  async get(itemId: string): Promise<ItemView> {
    const row = await this.items.findById(itemId);
    if (row === undefined) throw itemNotFound(itemId);
    return toView(row);
  }

  async create(input: {
    itemId: string;
    name: string;
    description?: string;
    price: string;
    stock: number;
    isAvailable: boolean;
  }): Promise<ItemView> {
    const row = await this.items.insert({ ...input, description: input.description ?? null });
    if (row === undefined) {
      throw new DomainError('ITEM_ALREADY_EXISTS', `Item already exists: ${input.itemId}`);
    }
    return toView(row);
  }

  async update(
    itemId: string,
    changes: { addStock?: number; price?: string; isAvailable?: boolean },
  ): Promise<ItemView> {
    const row = await this.items.update(itemId, changes);
    if (row === undefined) throw itemNotFound(itemId);
    return toView(row);
  }

  /**
   * The server's exact totals for purchases: the current catalogue price x quantity, or the
   * refusal of an unknown item.
   */
  async quoteMany(
    purchases: readonly { itemId: string; quantity: number }[],
  ): Promise<({ unitPrice: string; total: string } | DomainError)[]> {
    const quotes = await this.items.quoteMany(purchases);
    return quotes.map((quote, index) =>
      quote.unit_price === null || quote.total === null
        ? itemNotFound(purchases[index].itemId)
        : { unitPrice: quote.unit_price, total: quote.total },
    );
  }

  /**
   * The item side of several purchases, decided in order as if one after the other: the item
   * exists, is available and has the stock; then the stock is taken. Refusals carry the
   * contract's codes; a purchase that could only be decided after an earlier refused one of the
   * same item is handed back (`requeue`).
   */
  async reserveForPurchases(
    purchases: readonly { itemId: string; quantity: number }[],
  ): Promise<BatchOutcome<{ stockBefore: number; stockAfter: number }>[]> {
    const decisions = await this.items.reserveManyIfAvailable(purchases);
    return decisions.map((decision, index) => {
      const { itemId, quantity } = purchases[index];
      if (decision.reserved && decision.stock_before !== null && decision.stock_after !== null) {
        return {
          kind: 'value',
          value: { stockBefore: decision.stock_before, stockAfter: decision.stock_after },
        };
      }
      if (decision.blocked) return { kind: 'requeue' };
      if (!decision.found) return { kind: 'error', error: itemNotFound(itemId) };
      if (decision.is_available !== true) {
        return {
          kind: 'error',
          error: new DomainError('ITEM_NOT_AVAILABLE', `Item is not available: ${itemId}`),
        };
      }
      return {
        kind: 'error',
        error: new DomainError(
          'INSUFFICIENT_STOCK',
          `Insufficient stock. Available: ${decision.available}, Requested: ${quantity}`,
        ),
      };
    });
  }

  async releaseReservation(itemId: string, quantity: number): Promise<{ stockAfter: number }> {
    const stock = await this.items.release(itemId, quantity);
    if (stock === undefined) throw itemNotFound(itemId);
    return { stockAfter: stock };
  }
}
