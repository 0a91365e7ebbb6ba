import { Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../../common/auth/admin.guard';
import { IdParam } from '../../../common/http/dto-validators';
import type { SagaView } from '../read-model/saga.mapper';
import { SagaAdmin } from './saga-admin';

@ApiTags('sagas')
@Controller()
export class CompensationController {
  constructor(private readonly admin: SagaAdmin) {}

  @Post('compensate/:transactionId')
  @HttpCode(200)
  @UseGuards(AdminGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Compensate a saga by hand, or re-drive a failed compensation (admin)' })
  async compensate(
    @IdParam('transactionId', 'transaction') transactionId: string,
  ): Promise<{ success: boolean; message: string; saga: SagaView }> {
    const { view, changed } = await this.admin.compensate(transactionId);
    return {
      success: view.status === 'compensated' || (view.status === 'failed' && !changed),
      message: changed
        ? `Compensation run; saga is ${view.status}`
        : `Nothing to compensate; saga is ${view.status}`,
      saga: view,
    };
  }
}
