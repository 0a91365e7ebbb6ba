import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../common/auth/admin.guard';
import { RetentionService, type RetentionStatus } from '../retention/retention.service';
import {
  decodeSagaCursor,
  SagaOverview,
  SagaPage,
  SagaReportsService,
} from '../saga/read-model/saga-reports.service';
import { ListSagasQuery } from './dto/list-sagas.query';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin')
export class SagasAdminController {
  constructor(
    private readonly reports: SagaReportsService,
    private readonly retention: RetentionService,
  ) {}

  @Get('statistics')
  @ApiOperation({
    summary:
      'Sagas per status and per pattern, stuck sagas, throughput of the last minute, p50/p95 duration of the last 15 minutes, the retention policy and its last run',
  })
  async statistics(): Promise<{ success: true; retention: RetentionStatus } & SagaOverview> {
    // One after the other: a request takes one reporting turn at a time (see work-pools.ts).
    const overview = await this.reports.overview();
    return { success: true, ...overview, retention: await this.retention.status() };
  }

  @Get('sagas')
  @ApiOperation({
    summary:
      'Sagas, newest first, filtered, paginated by page or by keyset cursor (limit above 100 is lowered to 100)',
  })
  list(@Query() query: ListSagasQuery): Promise<SagaPage> {
    const { status } = query;
    const attention = status === 'stuck' || status === 'compensation_failed';
    return this.reports.list(
      {
        status: attention ? undefined : status,
        state: attention ? status : undefined,
        pattern: query.pattern,
        userId: query.userId,
        itemId: query.itemId,
        transactionId: query.transactionId,
        idempotencyKey: query.idempotencyKey,
        createdFrom: query.dateFrom === undefined ? undefined : new Date(query.dateFrom),
        createdTo: query.dateTo === undefined ? undefined : new Date(query.dateTo),
      },
      query.page,
      query.limit,
      query.cursor === undefined ? undefined : decodeSagaCursor(query.cursor),
    );
  }
}
