import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../../common/auth/admin.guard';
import { DbMonitorService, DbMonitorState } from './db-monitor.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/db-metrics')
export class DbMetricsController {
  constructor(private readonly monitor: DbMonitorService) {}

  @Get()
  @ApiOperation({
    summary:
      "The DB monitor's latest snapshot: connections, pool, cache hit ratio, table sizes, slow statements",
  })
  state(): Promise<DbMonitorState> {
    return this.monitor.state();
  }
}
