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
import type { RateLimitClass, RateLimitHold } from '../../config/configuration';
import { rateLimitHeld, rateLimitedRequests } from '../monitoring/metrics/http-metrics';

export const RATE_LIMIT_BUDGETS = Symbol('RATE_LIMIT_BUDGETS');
export const RATE_LIMIT_HOLD = Symbol('RATE_LIMIT_HOLD');

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
 *
 * A refused answer is held back (RATE_LIMIT_HOLD, up to the end of the client's block): a client
 * that calls again as soon as it is answered, on each of its connections, then costs a few
 * answers a second instead of taking the CPU from everyone else. Past RATE_LIMIT_HOLD_MAX held at
 * once, the refusal is answered at once and closes its connection.
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
    @Inject(RATE_LIMIT_HOLD) private readonly hold: RateLimitHold,
  ) {}

  /** Refused answers held back right now. */
  private held = 0;

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
    const heldMs = await this.holdBack(hit.timeToBlockExpire * 1000, reply);
    const seconds = Math.max(1, hit.timeToBlockExpire - Math.floor(heldMs / 1000));
    const error = new TooManyRequestsError(
      'RATE_LIMITED',
      `${REFUSALS[budgetClass]}; retry in ${seconds} s`,
      seconds,
    );
    await reply.code(429).header('retry-after', String(seconds)).send(toErrorBody(error));
    return false;
  }

  /**
   * Waits up to the hold (never past the block's end) and says how long it waited, or, with every
   * hold slot taken, marks the answer to close its connection.
   */
  private async holdBack(blockMs: number, reply: FastifyReply): Promise<number> {
    if (this.hold.ms === undefined) return 0;
    if (this.held >= this.hold.max) {
      reply.header('connection', 'close');
      return 0;
    }
    const ms = Math.min(this.hold.ms, blockMs);
    this.held += 1;
    rateLimitHeld.inc();
    try {
      await new Promise((resolve) => setTimeout(resolve, ms));
    } finally {
      this.held -= 1;
      rateLimitHeld.dec();
    }
    return ms;
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
