import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { NoRateLimit } from '../../common/http/rate-limit';
import { VersionedCache } from '../cache/versioned-cache';
import { EventRelay } from '../events/event-relay';
import { SagaVersions } from '../saga/core/saga-versions';

type Indicators = Partial<Record<string, { status: string; [detail: string]: unknown }>>;
type HealthBody = Pick<HealthCheckResult, 'status' | 'error'> & {
  info?: Indicators;
  details: Indicators;
  statusCode?: number;
  errorCode?: string;
  message?: string;
};

@ApiTags('operations')
@Controller('health')
@NoRateLimit()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly cache: VersionedCache,
    private readonly relay: EventRelay,
    private readonly versions: SagaVersions,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      '200 while the database answers, 503 when it does not; the cache is reported, never required',
  })
  async check(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthBody> {
    try {
      return await this.withCache(
        await this.health.check([() => this.database.pingCheck('database', { timeout: 2000 })]),
      );
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return {
        statusCode: 503,
        errorCode: 'SERVICE_UNAVAILABLE',
        message: 'The database does not answer',
        ...(await this.withCache(error.getResponse() as HealthCheckResult)),
      };
    }
  }

  /**
   * The cache is optional: a lost Redis is shown (degraded) without making the service unhealthy.
   * So is the events broker (events wait in the database meanwhile), when one is configured, and
   * open sagas of a definition version this build lacks (counted every SAGA_VERSIONS_CHECK_MS).
   */
  private async withCache(result: HealthCheckResult): Promise<HealthBody> {
    const cache = { ...(await this.cache.probe()) };
    const sinks = this.relay.sinkStatus();
    const events =
      sinks === undefined
        ? undefined
        : { status: sinks.every((sink) => sink.connected) ? 'up' : 'degraded', sinks };
    // Open sagas of a definition version this build lacks wait for another instance: degraded.
    const versions = this.versions.status();
    const sagaDefinitions = {
      status: versions.unregisteredOpen.length === 0 ? 'up' : 'degraded',
      registered: versions.registered,
      unregisteredOpen: versions.unregisteredOpen.map(({ name, version, open }) => ({
        name,
        version,
        open,
      })),
    };
    const up = {
      ...(cache.status === 'up' ? { cache } : {}),
      ...(events?.status === 'up' ? { events } : {}),
      ...(sagaDefinitions.status === 'up' ? { sagaDefinitions } : {}),
    };
    return {
      ...result,
      ...(Object.keys(up).length > 0 ? { info: { ...result.info, ...up } } : {}),
      details: {
        ...result.details,
        cache,
        ...(events === undefined ? {} : { events }),
        sagaDefinitions,
      },
    };
  }
}
