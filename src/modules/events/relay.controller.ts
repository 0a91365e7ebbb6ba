import { Controller, Get, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../common/auth/admin.guard';
import { EventRelay, type RelayState } from './event-relay';

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/relay')
export class RelayController {
  constructor(private readonly relay: EventRelay) {}

  @Get()
  @ApiOperation({
    summary:
      'The integration events relay: whether it is on, each sink connected or not, the backlog and its lag (admin)',
  })
  state(): Promise<RelayState> {
    return this.relay.state();
  }
}
