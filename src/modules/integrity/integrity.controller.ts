import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../common/auth/admin.guard';
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
      '200 with `clean: true` when every check passes; otherwise each check lists its violations with the ids involved.',
  })
  verify(): Promise<IntegrityReport> {
    return this.integrity.verify();
  }
}
