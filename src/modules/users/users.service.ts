import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError } from '../../common/errors/domain-error';
import { moneyToJson, toCents } from '../../common/money';
import type { UserStatus } from './user.entity';
import { UserRow, UsersRepository } from './users.repository';

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
   * The user side of a purchase: the user exists, is active, the total is within its purchase
   * limit (0 = none) and its balance; then the total is debited. Refusals throw with the
   * contract's codes.
   */
  async debitForPurchase(
    userId: string,
    total: string,
  ): Promise<{ balanceBefore: string; balanceAfter: string }> {
    const result = await this.users.debitIfAllowed(userId, total);
    if (result.debited) return result;
    const user = result.user;
    if (user === undefined) throw userNotFound(userId);
    if (user.status !== 'active') {
      throw new DomainError('USER_NOT_ACTIVE', `User is not active: ${userId} (${user.status})`);
    }
    const limit = toCents(user.purchase_limit);
    if (limit > 0n && toCents(total) > limit) {
      throw new DomainError(
        'PURCHASE_LIMIT_EXCEEDED',
        `Purchase total ${total} exceeds the purchase limit ${user.purchase_limit}`,
      );
    }
    throw new DomainError(
      'INSUFFICIENT_BALANCE',
      `Insufficient balance. Available: ${user.balance}, Required: ${total}`,
    );
  }

  async refundPurchase(userId: string, total: string): Promise<{ balanceAfter: string }> {
    const row = await this.users.refund(userId, total);
    if (row === undefined) throw userNotFound(userId);
    return { balanceAfter: row.balance };
  }

  /** Adds purchased units to the user's inventory; returns how many the user now owns. */
  addToInventory(userId: string, itemId: string, quantity: number): Promise<number> {
    return this.users.addToInventory(userId, itemId, quantity);
  }

  removeFromInventory(userId: string, itemId: string, quantity: number): Promise<number> {
    return this.users.addToInventory(userId, itemId, -quantity);
  }
}
