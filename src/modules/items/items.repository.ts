import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../../database/transaction-host';

export interface ItemRow {
  item_id: string;
  name: string;
  description: string | null;
  price: string;
  stock: number;
  stocked_total: number;
  is_available: boolean;
  created_at: Date;
  updated_at: Date;
}

export type ReserveResult =
  | { reserved: true; stockBefore: number; stockAfter: number }
  | { reserved: false; item: Pick<ItemRow, 'stock' | 'is_available'> | undefined };

@Injectable()
export class ItemsRepository {
  constructor(private readonly tx: TransactionHost) {}

  findAll(): Promise<ItemRow[]> {
    return this.tx.query<ItemRow>('SELECT * FROM items ORDER BY item_id');
  }

  findById(itemId: string): Promise<ItemRow | undefined> {
    return this.tx.one<ItemRow>('SELECT * FROM items WHERE item_id = $1', [itemId]);
  }

  /** The exact total of `quantity` units at the current catalogue price, computed in SQL. */
  quote(
    itemId: string,
    quantity: number,
  ): Promise<{ unit_price: string; total: string } | undefined> {
    return this.tx.one<{ unit_price: string; total: string }>(
      'SELECT price AS unit_price, price * $2::int AS total FROM items WHERE item_id = $1',
      [itemId, quantity],
    );
  }

  /** Inserts an item (its starting stock is its first restock); undefined when the id is taken. */
  insert(item: {
    itemId: string;
    name: string;
    description: string | null;
    price: string;
    stock: number;
    isAvailable: boolean;
  }): Promise<ItemRow | undefined> {
    return this.tx.one<ItemRow>(
      `INSERT INTO items (item_id, name, description, price, stock, stocked_total, is_available)
       VALUES ($1, $2, $3, $4, $5, $5, $6) ON CONFLICT (item_id) DO NOTHING RETURNING *`,
      [item.itemId, item.name, item.description, item.price, item.stock, item.isAvailable],
    );
  }

  /** Admin upkeep; a restock is recorded in the ledger with the stock. */
  update(
    itemId: string,
    changes: { addStock?: number; price?: string; isAvailable?: boolean },
  ): Promise<ItemRow | undefined> {
    return this.tx.one<ItemRow>(
      `UPDATE items SET stock = stock + COALESCE($2::int, 0),
         stocked_total = stocked_total + COALESCE($2::int, 0), price = COALESCE($3::numeric, price),
         is_available = COALESCE($4::boolean, is_available), updated_at = now()
       WHERE item_id = $1 RETURNING *`,
      [itemId, changes.addStock ?? null, changes.price ?? null, changes.isAvailable ?? null],
    );
  }

  /**
   * Takes `quantity` from stock in one statement, only if the item is available and has it:
   * parallel reservations can never oversell. When refused, returns the row as read.
   */
  async reserveIfAvailable(itemId: string, quantity: number): Promise<ReserveResult> {
    const row = await this.tx.one<{
      stock: number;
      is_available: boolean;
      stock_after: number | null;
    }>(
      `WITH reserve AS (
         UPDATE items SET stock = stock - $2, updated_at = now()
         WHERE item_id = $1 AND is_available AND stock >= $2
         RETURNING stock
       )
       SELECT i.stock, i.is_available, (SELECT stock FROM reserve) AS stock_after
       FROM items i WHERE i.item_id = $1`,
      [itemId, quantity],
    );
    if (row === undefined) return { reserved: false, item: undefined };
    if (row.stock_after !== null) {
      return {
        reserved: true,
        stockBefore: row.stock_after + quantity,
        stockAfter: row.stock_after,
      };
    }
    const current = await this.tx.one<Pick<ItemRow, 'stock' | 'is_available'>>(
      'SELECT stock, is_available FROM items WHERE item_id = $1',
      [itemId],
    );
    return { reserved: false, item: current };
  }

  /** Puts reserved stock back (compensation). */
  async release(itemId: string, quantity: number): Promise<number | undefined> {
    const row = await this.tx.one<{ stock: number }>(
      'UPDATE items SET stock = stock + $2, updated_at = now() WHERE item_id = $1 RETURNING stock',
      [itemId, quantity],
    );
    return row?.stock;
  }
}
