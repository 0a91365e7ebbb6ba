import { Body, Controller, Get, HttpCode, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard, adminNameOf, type AdminRequest } from '../../common/auth/admin.guard';
import { IdParam } from '../../common/http/dto-validators';
import { AuditService, type AuditPage } from './audit/audit.service';
import {
  ConsoleActionsService,
  type SagaActionResult,
  type SagaDetail,
} from './console-actions.service';
import { ListAuditQuery, SagaActionDto } from './dto/console.dto';

/** The admin routes the operator console reads and acts through (usable without it too). */
@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin')
export class ConsoleController {
  constructor(
    private readonly console: ConsoleActionsService,
    private readonly audit: AuditService,
  ) {}

  @Get('session')
  @ApiOperation({ summary: 'Who the token acts as, and whether actions are allowed' })
  session(@Req() request: AdminRequest): { name: string; readOnly: boolean } {
    return { name: adminNameOf(request), readOnly: this.console.readOnly };
  }

  @Get('audit')
  @ApiOperation({
    summary:
      'The audit log of admin actions (who, when, what, reason, outcome), newest first; page with before=nextBefore',
  })
  auditLog(@Query() query: ListAuditQuery): Promise<AuditPage> {
    return this.audit.page({
      limit: query.limit,
      before: query.before,
      transactionId: query.transactionId,
    });
  }

  @Get('sagas/:transactionId')
  @ApiOperation({
    summary:
      "A saga with its steps and compensations, its outbox events, the user's and item's current figures and its audit trail",
  })
  detail(@IdParam('transactionId', 'transaction') transactionId: string): Promise<SagaDetail> {
    return this.console.detail(transactionId);
  }

  @Post('sagas/:transactionId/compensate')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Compensate a saga, or re-drive a failed compensation, with a reason written to the audit log (403 CONSOLE_READ_ONLY in read-only mode)',
  })
  compensate(
    @IdParam('transactionId', 'transaction') transactionId: string,
    @Body() dto: SagaActionDto,
    @Req() request: AdminRequest,
  ): Promise<SagaActionResult> {
    return this.console.compensate(transactionId, adminNameOf(request), dto.reason);
  }
}
