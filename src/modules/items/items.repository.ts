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

/**
 * One purchase's reservation as decided within its batch: `reserved`, or refused (`available`
 * is the stock left after the batch's earlier reservations of the same item), or `blocked`
 * behind an earlier refused reservation of the same item (to be decided again later).
 */
export interface ReserveDecision {
  found: boolean;
  is_available: boolean | null;
  available: number | null;
  reserved: boolean;
  blocked: boolean;
  stock_before: number | null;
  stock_after: number | null;
}

@Injectable()
export class ItemsRepository {
  constructor(private readonly tx: TransactionHost) {}

  findAll(): Promise<ItemRow[]> {
    return this.tx.query<ItemRow>('SELECT * FROM items ORDER BY item_id');
  }

  findById(itemId: string): Promise<ItemRow | undefined> {
    return this.tx.one<ItemRow>('SELECT * FROM items WHERE item_id = $1', [itemId]);
  }

  /** Per purchase, in order: the exact total at the current catalogue price (none: no item). */
  quoteMany(
    purchases: readonly { itemId: string; quantity: number }[],
  ): Promise<{ unit_price: string | null; total: string | null }[]> {
    return this.tx.query<{ unit_price: string | null; total: string | null }>(
      `SELECT i.price AS unit_price, i.price * r.quantity AS total
       FROM unnest($1::varchar[], $2::int[]) WITH ORDINALITY AS r(item_id, quantity, ord)
       LEFT JOIN LATERAL (SELECT price FROM items WHERE item_id = r.item_id) i ON true
       ORDER BY r.ord`,
      [purchases.map((p) => p.itemId), purchases.map((p) => p.quantity)],
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
   * Takes several purchases' quantities from stock in one statement, each only if the item is
   * available and has the stock left after the batch's earlier reservations (in order): the
   * items' rows are locked in key order for this statement only, and parallel reservations can
   * never oversell. A reservation queued behind a refused one of the same item is `blocked`.
   */
  reserveManyIfAvailable(
    reservations: readonly { itemId: string; quantity: number }[],
  ): Promise<ReserveDecision[]> {
    return this.tx.query<ReserveDecision>(
      `WITH req AS (
         SELECT r.item_id, r.quantity, r.ord
         FROM unnest($1::varchar[], $2::int[]) WITH ORDINALITY AS r(item_id, quantity, ord)
       ),
       -- NO KEY UPDATE: rows that reference an item (inventory) check it with KEY SHARE, which
       -- this lock lets through.
       locked AS (
         SELECT i.item_id, i.stock, i.is_available FROM items i
         WHERE i.item_id = ANY($1::varchar[]) ORDER BY i.item_id FOR NO KEY UPDATE
       ),
       running AS (
         SELECT req.ord, req.item_id, req.quantity, l.item_id IS NOT NULL AS found, l.stock,
                l.is_available, COALESCE(l.is_available, false) AS eligible,
                sum(CASE WHEN l.is_available THEN req.quantity ELSE 0 END)
                  OVER (PARTITION BY req.item_id ORDER BY req.ord) AS taken
         FROM req LEFT JOIN locked l ON l.item_id = req.item_id
       ),
       reserved AS (
         UPDATE items i SET stock = i.stock - g.total, updated_at = now()
         FROM (SELECT item_id, sum(quantity) AS total FROM running
               WHERE eligible AND taken <= stock GROUP BY item_id) g
         WHERE i.item_id = g.item_id AND i.item_id = ANY($1::varchar[])
         RETURNING i.item_id
       )
       SELECT r.found, r.is_available,
              (r.stock - r.taken + CASE WHEN r.eligible THEN r.quantity ELSE 0 END)::int AS available,
              (r.eligible AND r.taken <= r.stock) AS reserved,
              (r.eligible AND r.taken - r.quantity > r.stock) AS blocked,
              CASE WHEN r.eligible AND r.taken <= r.stock
                   THEN (r.stock - r.taken + r.quantity)::int END AS stock_before,
              CASE WHEN r.eligible AND r.taken <= r.stock THEN (r.stock - r.taken)::int END AS stock_after
       FROM running r ORDER BY r.ord`,
      [reservations.map((r) => r.itemId), reservations.map((r) => r.quantity)],
    );
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
