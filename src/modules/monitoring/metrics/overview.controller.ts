import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../../common/auth/admin.guard';
import { SagaOverviewSampler, type SagaOverviewSeries } from './saga-overview';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin')
export class OverviewController {
  constructor(private readonly sampler: SagaOverviewSampler) {}

  @Get('overview')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary:
      "This instance's sagas finished per 5 s over the last 15 minutes: per second, p50/p95 duration, per status, compensation rate (from its counters, no database query)",
  })
  overview(): Promise<SagaOverviewSeries> {
    return this.sampler.series();
  }
}
