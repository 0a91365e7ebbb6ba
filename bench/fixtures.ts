import { BenchError } from './config';
import type { Service } from './service';

export const USER_BALANCE = 1_000_000;
export const ITEM_PRICE = 10;
export const ITEM_STOCK = 10_000_000;

export interface Fixtures {
  userIds: string[];
  /** The items purchases spread over. */
  itemIds: string[];
  /** The one item of the hot-row scenario. */
  hotItemId: string;
}

/** Runs `work` over `inputs` with at most `limit` in flight. */
async function eachLimited<T>(
  inputs: T[],
  limit: number,
  work: (input: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const input = inputs[next++];
      await work(input);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, inputs.length) }, worker));
}

async function post(service: Service, path: string, body: object): Promise<void> {
  const res = await fetch(`${service.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${service.adminToken}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) {
    throw new BenchError(`POST ${path} answered ${res.status}: ${await res.text()}`);
  }
}

/**
 * Creates the bench's users and items through the admin API, under a per-run prefix, with
 * balance and stock no run can exhaust (no purchase limit), so every refusal is the service's.
 */
export async function createFixtures(
  service: Service,
  users: number,
  items: number,
): Promise<Fixtures> {
  const tag = `bench-${Date.now().toString(36)}`;
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  const userIds = Array.from({ length: users }, (_, i) => `${tag}-u${pad(i + 1, 5)}`);
  const itemIds = Array.from({ length: items }, (_, i) => `${tag}-i${pad(i + 1, 4)}`);
  const hotItemId = `${tag}-hot`;
  await eachLimited(userIds, 16, (userId) =>
    post(service, '/admin/users', {
      userId,
      name: `Bench user ${userId}`,
      balance: USER_BALANCE,
      purchaseLimit: 0,
    }),
  );
  await eachLimited([...itemIds, hotItemId], 16, (itemId) =>
    post(service, '/admin/items', {
      itemId,
      name: `Bench item ${itemId}`,
      price: ITEM_PRICE,
      stock: ITEM_STOCK,
    }),
  );
  return { userIds, itemIds, hotItemId };
}
