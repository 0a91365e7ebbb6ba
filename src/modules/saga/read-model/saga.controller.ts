import { Controller, Get, Res } from '@nestjs/common';
import { IdParam } from '../../../common/http/dto-validators';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { NotFoundError } from '../../../common/errors/domain-error';
import { toErrorBody } from '../../../common/http/all-exceptions.filter';
import { RateLimit } from '../../../common/http/rate-limit';
import { SagaView } from './saga.mapper';
import { SagaReportsService } from './saga-reports.service';
import type { SagaStatistics } from './saga-statistics';
import { SagaService } from './saga.service';

@ApiTags('sagas')
@Controller()
export class SagaController {
  constructor(
    private readonly sagas: SagaService,
    private readonly reports: SagaReportsService,
  ) {}

  @Get('saga/:transactionId')
  @RateLimit('public')
  @ApiOperation({
    summary: 'A saga with its steps and compensations, in order',
    description:
      "Once the notification step recorded it, `notification` gives the notification's " +
      'delivery to the outside: `{notificationId, status: pending|delivered|failed, channels, ' +
      'deliveredAt, error}`.',
  })
  async get(
    @IdParam('transactionId', 'transaction') transactionId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ found: boolean; saga?: SagaView } | string> {
    try {
      // The view's JSON as the cache holds it: `{found: true, saga}` without parsing it again.
      const saga = await this.sagas.getJson(transactionId);
      void reply.type('application/json; charset=utf-8');
      return `{"found":true,"saga":${saga}}`;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      void reply.status(404);
      return { found: false, ...toErrorBody(error) };
    }
  }

  @Get('sagas/stats')
  @RateLimit('reports')
  @ApiOperation({
    summary: 'Sagas per status, exact as of `asOf` (from counters kept as sagas change)',
  })
  async stats(): Promise<{ success: true; statistics: SagaStatistics; asOf: Date }> {
    return { success: true, ...(await this.reports.statistics()) };
  }
}
