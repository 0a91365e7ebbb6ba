import { Controller, Get, Res } from '@nestjs/common';
import { IdParam } from '../../../common/http/dto-validators';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { NotFoundError } from '../../../common/errors/domain-error';
import { toErrorBody } from '../../../common/http/all-exceptions.filter';
import { RateLimit } from '../../../common/http/rate-limit';
import { SagaView } from '../read-model/saga.mapper';
import { SagaReportsService } from '../read-model/saga-reports.service';
import type { SagaStatistics } from '../read-model/saga-statistics';
import { SagaHistoryEntry, SagaService } from '../read-model/saga.service';
import { ChoreographyEngine } from './choreography.engine';
import { toEventView, type SagaEventView } from './saga-events';

@ApiTags('choreography')
@Controller('choreography')
export class ChoreographyController {
  constructor(
    private readonly sagas: SagaService,
    private readonly reports: SagaReportsService,
    private readonly choreography: ChoreographyEngine,
  ) {}

  @Get('transaction/:transactionId')
  @RateLimit('public')
  @ApiOperation({ summary: 'A saga with its steps, compensations and the events it raised' })
  async transaction(
    @IdParam('transactionId', 'transaction') transactionId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ found: boolean; saga?: SagaView; events?: SagaEventView[] }> {
    try {
      const saga = await this.sagas.get(transactionId);
      return {
        found: true,
        saga,
        events: (await this.choreography.events(transactionId)).map(toEventView),
      };
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      void reply.status(404);
      return { found: false, ...toErrorBody(error) };
    }
  }

  @Get('user/:userId/history')
  @RateLimit('reports')
  @ApiOperation({ summary: "A user's choreographed purchases, newest first (at most 100)" })
  async history(@IdParam('userId') userId: string): Promise<{
    success: true;
    userId: string;
    transactionCount: number;
    transactions: SagaHistoryEntry[];
    patternUsed: 'choreography';
  }> {
    const transactions = await this.sagas.history(userId, 'choreography');
    return {
      success: true,
      userId,
      transactionCount: transactions.length,
      transactions,
      patternUsed: 'choreography',
    };
  }

  @Get('stats')
  @RateLimit('reports')
  @ApiOperation({ summary: 'Choreographed sagas per status, exact as of `asOf`' })
  async stats(): Promise<{
    success: true;
    patternUsed: 'choreography';
    statistics: SagaStatistics;
    asOf: Date;
    description: { pattern: string; characteristics: string[] };
  }> {
    const { patterns, asOf } = await this.reports.patternStatistics();
    return {
      success: true,
      patternUsed: 'choreography',
      statistics: patterns.choreography,
      asOf,
      description: {
        pattern: 'Event-driven choreography',
        characteristics: [
          'Decentralized control',
          'Events through a transactional outbox',
          'Idempotent participants',
          'Compensation by events',
        ],
      },
    };
  }
}
