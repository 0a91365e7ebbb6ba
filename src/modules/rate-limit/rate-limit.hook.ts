import { Inject, Injectable, type OnModuleInit, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, HttpAdapterHost, MetadataScanner } from '@nestjs/core';
import { ThrottlerStorage } from '@nestjs/throttler';
// The throttler's own client key: an IPv6 client counts by its /64, which it controls whole.
import { normalizeIp } from '@nestjs/throttler/dist/ip';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TooManyRequestsError } from '../../common/errors/domain-error';
import { toErrorBody } from '../../common/http/all-exceptions.filter';
import { rateLimitClassOfRoute } from '../../common/http/rate-limit';
import type { RateLimitClass } from '../../config/configuration';
import { rateLimitedRequests } from '../monitoring/metrics/http-metrics';

export const RATE_LIMIT_BUDGETS = Symbol('RATE_LIMIT_BUDGETS');

/** A class's budget: `limit` requests per `ttlMs` per client, then refused for as long. */
export interface RateLimitBudget {
  limit: number;
  ttlMs: number;
}

const REFUSALS: Record<RateLimitClass, string> = {
  reports: 'Too many statistics and listing requests from this client',
  public: 'Too many requests from this client',
};

/** `/a` + `b/:id` → `/a/b/:id`, as Nest joins a controller's path and its route's. */
function joinPath(base: string, path: string): string {
  const joined = `/${[base, path]
    .map((part) => part.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;
  return joined;
}

const pathsOf = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : [typeof value === 'string' ? value : ''];

/**
 * Per-client rate limits, decided in Fastify's onRequest hook, before Nest's pipeline: a route of
 * no limited class (an admin route, a probe, any route when its class is off) costs one map
 * look-up, and a refused request no guard, pipe or handler. Each route counts against one budget
 * per client (its address, see TRUST_PROXY), that of its class (see RateLimit), in the
 * throttler's storage (Redis when configured).
 */
@Injectable()
export class RateLimitHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    @Inject(RATE_LIMIT_BUDGETS)
    private readonly budgets: Partial<Record<RateLimitClass, RateLimitBudget>>,
  ) {}

  onModuleInit(): void {
    const routes = this.routeClasses();
    for (const name of Object.keys(this.budgets)) rateLimitedRequests.inc({ class: name }, 0);
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
      const budgetClass = routes.get(`${request.method} ${request.routeOptions.url ?? ''}`);
      if (budgetClass === undefined) return done();
      // A refused request is answered here and goes no further; a storage failure lets it pass
      // (the storage counts in this process while Redis is down).
      this.admit(request, reply, budgetClass).then(
        (admitted) => admitted && done(),
        () => done(),
      );
    });
  }

  private async admit(
    request: FastifyRequest,
    reply: FastifyReply,
    budgetClass: RateLimitClass,
  ): Promise<boolean> {
    const budget = this.budgets[budgetClass];
    if (budget === undefined) return true;
    const hit = await this.storage.increment(
      `${budgetClass}:${normalizeIp(request.ip)}`,
      budget.ttlMs,
      budget.limit,
      budget.ttlMs,
      budgetClass,
    );
    if (!hit.isBlocked) return true;
    rateLimitedRequests.inc({ class: budgetClass });
    const seconds = Math.max(1, hit.timeToBlockExpire);
    const error = new TooManyRequestsError(
      'RATE_LIMITED',
      `${REFUSALS[budgetClass]}; retry in ${seconds} s`,
      seconds,
    );
    await reply.code(429).header('retry-after', String(seconds)).send(toErrorBody(error));
    return false;
  }

  /** `METHOD /pattern` → class, for every route of a class whose budget is on. */
  private routeClasses(): Map<string, RateLimitClass> {
    const routes = new Map<string, RateLimitClass>();
    for (const { metatype, instance } of this.discovery.getControllers()) {
      if (typeof metatype !== 'function' || instance === null || typeof instance !== 'object') {
        continue;
      }
      const bases = pathsOf(Reflect.getMetadata(PATH_METADATA, metatype));
      const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (typeof handler !== 'function') continue;
        const path: unknown = Reflect.getMetadata(PATH_METADATA, handler);
        if (path === undefined) continue;
        const budgetClass = rateLimitClassOfRoute(handler, metatype);
        if (budgetClass === null || this.budgets[budgetClass] === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        for (const base of bases) {
          for (const route of pathsOf(path))
            routes.set(`${method} ${joinPath(base, route)}`, budgetClass);
        }
      }
    }
    return routes;
  }
}
