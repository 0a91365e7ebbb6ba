import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config/configuration';
import { DomainError } from '../errors/domain-error';

/** The request of an admin route, once the guard has let it through: who it acts as. */
export type AdminRequest = FastifyRequest & { adminName?: string };

/**
 * Admin routes need `Authorization: Bearer <token>`, the token ADMIN_TOKEN (named "admin") or
 * one of ADMIN_TOKENS; the guard records the token's name on the request, never the token.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly tokens: { name: string; token: Buffer }[];

  constructor(config: ConfigService<AppConfig, true>) {
    this.tokens = config
      .get('adminTokens', { infer: true })
      .map(({ name, token }) => ({ name, token: Buffer.from(token) }));
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<AdminRequest>();
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    const given = Buffer.from(match?.[1]?.trim() ?? '');
    // Every token is compared, so the time taken does not tell which one came close.
    let name: string | undefined;
    for (const candidate of this.tokens) {
      const equal =
        given.length === candidate.token.length && timingSafeEqual(given, candidate.token);
      if (equal && name === undefined) name = candidate.name;
    }
    if (name === undefined) {
      throw new DomainError('UNAUTHORIZED', 'A valid admin bearer token is required');
    }
    request.adminName = name;
    return true;
  }
}

/** Who an admin request acts as: the name of its token ("admin" for ADMIN_TOKEN). */
export function adminNameOf(request: AdminRequest): string {
  return request.adminName ?? 'admin';
}
