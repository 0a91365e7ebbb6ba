import { Injectable } from '@nestjs/common';
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

  /** The server's exact total for a purchase: the current catalogue price x quantity. */
  async quote(itemId: string, quantity: number): Promise<{ unitPrice: string; total: string }> {
    const quote = await this.items.quote(itemId, quantity);
    if (quote === undefined) throw itemNotFound(itemId);
    return { unitPrice: quote.unit_price, total: quote.total };
  }

  /**
   * The item side of a purchase: the item exists, is available and has the stock; then the
   * stock is taken. Refusals throw with the contract's codes.
   */
  async reserveForPurchase(
    itemId: string,
    quantity: number,
  ): Promise<{ stockBefore: number; stockAfter: number }> {
    const result = await this.items.reserveIfAvailable(itemId, quantity);
    if (result.reserved) return result;
    const item = result.item;
    if (item === undefined) throw itemNotFound(itemId);
    if (!item.is_available) {
      throw new DomainError('ITEM_NOT_AVAILABLE', `Item is not available: ${itemId}`);
    }
    throw new DomainError(
      'INSUFFICIENT_STOCK',
      `Insufficient stock. Available: ${item.stock}, Requested: ${quantity}`,
    );
  }

  async releaseReservation(itemId: string, quantity: number): Promise<{ stockAfter: number }> {
    const stock = await this.items.release(itemId, quantity);
    if (stock === undefined) throw itemNotFound(itemId);
    return { stockAfter: stock };
  }
}
