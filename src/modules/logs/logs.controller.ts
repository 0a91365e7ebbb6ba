import { Controller, Get } from '@nestjs/common';
import { IdParam } from '../../common/http/dto-validators';
import { RateLimit } from '../../common/http/rate-limit';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { TransactionLogView, TransactionLogsService } from './transaction-logs.service';

@ApiTags('purchases')
@Controller('logs')
@RateLimit('reports')
export class LogsController {
  constructor(private readonly logs: TransactionLogsService) {}

  @Get(':userId')
  @ApiOperation({ summary: "A user's transaction log, newest first (at most 100)" })
  list(@IdParam('userId') userId: string): Promise<TransactionLogView[]> {
    return this.logs.listByUser(userId);
  }
}
