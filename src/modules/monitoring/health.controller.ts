import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckResult, HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';

type HealthBody = HealthCheckResult & { statusCode?: number; errorCode?: string; message?: string };

@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: TypeOrmHealthIndicator,
  ) {}

  @Get()
  @ApiOperation({ summary: '200 while the database answers, 503 when it does not' })
  async check(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthBody> {
    try {
      return await this.health.check([
        () => this.database.pingCheck('database', { timeout: 2000 }),
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return {
        statusCode: 503,
        errorCode: 'SERVICE_UNAVAILABLE',
        message: 'The database does not answer',
        ...(error.getResponse() as HealthCheckResult),
      };
    }
  }
}
