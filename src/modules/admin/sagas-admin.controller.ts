import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../common/auth/admin.guard';
import { RetentionService, type RetentionStatus } from '../retention/retention.service';
import {
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
    const [overview, retention] = await Promise.all([
      this.reports.overview(),
      this.retention.status(),
    ]);
    return { success: true, ...overview, retention };
  }

  @Get('sagas')
  @ApiOperation({
    summary: 'Sagas, newest first, filtered and paginated (limit above 100 is lowered to 100)',
  })
  list(@Query() query: ListSagasQuery): Promise<SagaPage> {
    return this.reports.list(
      {
        status: query.status,
        pattern: query.pattern,
        userId: query.userId,
        createdFrom: query.dateFrom === undefined ? undefined : new Date(query.dateFrom),
        createdTo: query.dateTo === undefined ? undefined : new Date(query.dateTo),
      },
      query.page,
      query.limit,
    );
  }
}
