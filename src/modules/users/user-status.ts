export type UserStatus = 'active' | 'suspended' | 'closed';
export const USER_STATUSES: readonly UserStatus[] = ['active', 'suspended', 'closed'];
