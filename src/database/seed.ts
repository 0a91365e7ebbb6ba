import type { DataSource } from 'typeorm';

/** The contract's demo data. Loading it twice changes nothing. */
export const DEMO_USERS = [
  {
    userId: 'user-123',
    name: 'Demo User',
    balance: '1000.00',
    status: 'active',
    purchaseLimit: '500.00',
  },
  {
    userId: 'user-456',
    name: 'Low Balance User',
    balance: '50.00',
    status: 'active',
    purchaseLimit: '100.00',
  },
  {
    userId: 'user-suspended',
    name: 'Suspended User',
    balance: '1000.00',
    status: 'suspended',
    purchaseLimit: '0.00',
  },
] as const;

export const DEMO_ITEMS = [
  { itemId: 'item-sword', name: 'Magic Sword', price: '100.00', stock: 50, isAvailable: true },
  { itemId: 'item-potion', name: 'Health Potion', price: '20.00', stock: 100, isAvailable: true },
  { itemId: 'item-out-of-stock', name: 'Rare Gem', price: '500.00', stock: 0, isAvailable: true },
  { itemId: 'item-disabled', name: 'Disabled Item', price: '50.00', stock: 10, isAvailable: false },
] as const;

export async function seedDemoData(
  dataSource: DataSource,
): Promise<{ users: number; items: number }> {
  return dataSource.transaction(async (manager) => {
    let users = 0;
    let items = 0;
    for (const user of DEMO_USERS) {
      const inserted: unknown[] = await manager.query(
        `INSERT INTO users (user_id, name, balance, credited_total, status, purchase_limit)
         VALUES ($1, $2, $3, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING RETURNING user_id`,
        [user.userId, user.name, user.balance, user.status, user.purchaseLimit],
      );
      users += inserted.length;
    }
    for (const item of DEMO_ITEMS) {
      const inserted: unknown[] = await manager.query(
        `INSERT INTO items (item_id, name, price, stock, stocked_total, is_available)
         VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (item_id) DO NOTHING RETURNING item_id`,
        [item.itemId, item.name, item.price, item.stock, item.isAvailable],
      );
      items += inserted.length;
    }
    return { users, items };
  });
}
