import { Controller, Get, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import { IdParam } from '../../../common/http/dto-validators';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminGuard } from '../../../common/auth/admin.guard';
import { NotFoundError } from '../../../common/errors/domain-error';
import { toErrorBody } from '../../../common/http/all-exceptions.filter';
import { SagaView } from './saga.mapper';
import { SagaService, SagaStatistics } from './saga.service';

@ApiTags('sagas')
@Controller()
export class SagaController {
  constructor(private readonly sagas: SagaService) {}

  @Get('saga/:transactionId')
  @ApiOperation({ summary: 'A saga with its steps and compensations, in order' })
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
  @ApiOperation({ summary: 'Sagas per status' })
  async stats(): Promise<{ success: true; statistics: SagaStatistics }> {
    return { success: true, statistics: await this.sagas.statistics() };
  }

  @Post('compensate/:transactionId')
  @HttpCode(200)
  @UseGuards(AdminGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Compensate a saga by hand, or re-drive a failed compensation (admin)' })
  async compensate(
    @IdParam('transactionId', 'transaction') transactionId: string,
  ): Promise<{ success: boolean; message: string; saga: SagaView }> {
    const { view, changed } = await this.sagas.compensate(transactionId);
    return {
      success: view.status === 'compensated' || (view.status === 'failed' && !changed),
      message: changed
        ? `Compensation run; saga is ${view.status}`
        : `Nothing to compensate; saga is ${view.status}`,
      saga: view,
    };
  }
}
