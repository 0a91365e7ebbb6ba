import { Injectable } from '@nestjs/common';
import type { BatchOutcome } from '../../common/batch-queue';
import { DomainError, NotFoundError } from '../../common/errors/domain-error';
import { moneyToJson, toCents } from '../../common/money';
import type { UserStatus } from './user-status';
import { DebitDecision, UserRow, UsersRepository } from './users.repository';

export interface UserView {
  userId: string;
  name: string;
  email: string | null;
  balance: number;
  status: UserStatus;
  purchaseLimit: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserProfileView extends UserView {
  inventory: { itemId: string; name: string; quantity: number }[];
}

function toView(row: UserRow): UserView {
  return {
    userId: row.user_id,
    name: row.name,
    email: row.email,
    balance: moneyToJson(row.balance) ?? 0,
    status: row.status,
    purchaseLimit: moneyToJson(row.purchase_limit) ?? 0,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function userNotFound(userId: string): NotFoundError {
  return new NotFoundError('USER_NOT_FOUND', `User not found: ${userId}`);
}

/** Why a debit was refused, in the contract's terms. */
function debitRefusal(userId: string, total: string, decision: DebitDecision): DomainError {
  if (!decision.found) return userNotFound(userId);
  if (decision.status !== 'active') {
    return new DomainError('USER_NOT_ACTIVE', `User is not active: ${userId} (${decision.status})`);
  }
  const limit = toCents(decision.purchase_limit ?? '0');
  if (limit > 0n && toCents(total) > limit) {
    return new DomainError(
      'PURCHASE_LIMIT_EXCEEDED',
      `Purchase total ${total} exceeds the purchase limit ${decision.purchase_limit}`,
    );
  }
  return new DomainError(
    'INSUFFICIENT_BALANCE',
    `Insufficient balance. Available: ${decision.available}, Required: ${total}`,
  );
}

@Injectable()
export class UsersService {
  constructor(private readonly users: UsersRepository) {}

  async getProfile(userId: string): Promise<UserProfileView> {
    const row = await this.users.findById(userId);
    if (row === undefined) throw userNotFound(userId);
    const inventory = await this.users.findInventory(userId);
    return {
      ...toView(row),
      inventory: inventory.map((i) => ({ itemId: i.item_id, name: i.name, quantity: i.quantity })),
    };
  }

  async create(input: {
    userId: string;
    name: string;
    email?: string;
    balance: string;
    status: UserStatus;
    purchaseLimit: string;
  }): Promise<UserView> {
    const row = await this.users.insert({ ...input, email: input.email ?? null });
    if (row === undefined) {
      throw new DomainError('USER_ALREADY_EXISTS', `User already exists: ${input.userId}`);
    }
    return toView(row);
  }

  async topUp(userId: string, amount: string): Promise<UserView> {
    const row = await this.users.credit(userId, amount);
    if (row === undefined) throw userNotFound(userId);
    return toView(row);
  }

  async setStatus(userId: string, status: UserStatus): Promise<UserView> {
    const row = await this.users.updateStatus(userId, status);
    if (row === undefined) throw userNotFound(userId);
    return toView(row);
  }

  /**
   * The user side of several purchases, decided in order as if one after the other: the user
   * exists, is active, the total is within its purchase limit (0 = none) and its balance; then
   * the total is debited. Refusals carry the contract's codes; a purchase that could only be
   * decided after an earlier refused one of the same user is handed back (`requeue`).
   */
  async debitForPurchases(
    purchases: readonly { userId: string; total: string }[],
  ): Promise<BatchOutcome<{ balanceBefore: string; balanceAfter: string }>[]> {
    const decisions = await this.users.debitManyIfAllowed(
      purchases.map((p) => ({ userId: p.userId, amount: p.total })),
    );
    return decisions.map((decision, index) => {
      const { userId, total } = purchases[index];
      if (decision.debited && decision.balance_before !== null && decision.balance_after !== null) {
        return {
          kind: 'value',
          value: { balanceBefore: decision.balance_before, balanceAfter: decision.balance_after },
        };
      }
      if (decision.blocked) return { kind: 'requeue' };
      return { kind: 'error', error: debitRefusal(userId, total, decision) };
    });
  }

  async refundPurchase(userId: string, total: string): Promise<{ balanceAfter: string }> {
    const row = await this.users.refund(userId, total);
    if (row === undefined) throw userNotFound(userId);
    return { balanceAfter: row.balance };
  }

  /** Adds purchased units to inventories; per purchase, how many the user owned right after. */
  addToInventories(
    grants: readonly { userId: string; itemId: string; quantity: number }[],
  ): Promise<number[]> {
    return grants.length === 0 ? Promise.resolve([]) : this.users.addManyToInventory(grants);
  }

  removeFromInventory(userId: string, itemId: string, quantity: number): Promise<number> {
    return this.users.addToInventory(userId, itemId, -quantity);
  }
}
