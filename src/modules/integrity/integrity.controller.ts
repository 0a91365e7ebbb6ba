import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../common/auth/admin.guard';
import { IntegrityQuery } from './integrity.query';
import { IntegrityReport, IntegrityService } from './integrity.service';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/integrity')
export class IntegrityController {
  constructor(private readonly integrity: IntegrityService) {}

  @Get()
  @ApiOperation({
    summary:
      'Reconcile the data now: balances, stock and inventory against completed sagas, logs, stuck sagas, outbox (admin)',
    description:
      'Incremental by default (what changed since the last run, its progress in `progress`); `?mode=full` checks everything and recounts the rollups. 200 with `clean: true` when every check passes; otherwise each check lists its violations with the ids involved.',
  })
  verify(@Query() query: IntegrityQuery): Promise<IntegrityReport> {
    return this.integrity.verify(query.mode ?? 'incremental');
  }
}
