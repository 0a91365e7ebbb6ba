import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { NoRateLimit } from '../../common/http/rate-limit';
import { VersionedCache } from '../cache/versioned-cache';

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

  /** The cache is optional: a lost Redis is shown (degraded) without making the service unhealthy. */
  private async withCache(result: HealthCheckResult): Promise<HealthBody> {
    const cache = { ...(await this.cache.probe()) };
    return {
      ...result,
      ...(cache.status === 'up' ? { info: { ...result.info, cache } } : {}),
      details: { ...result.details, cache },
    };
  }
}
