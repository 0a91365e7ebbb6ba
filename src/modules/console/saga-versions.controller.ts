import { Body, Controller, Get, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard, adminNameOf, type AdminRequest } from '../../common/auth/admin.guard';
import {
  SagaVersions,
  type OpenSagasOfVersion,
  type RegisteredDefinitionView,
} from '../saga/core/saga-versions';
import { ConsoleActionsService, type VersionMoveActionResult } from './console-actions.service';
import { SagaVersionMoveDto } from './dto/saga-version-move.dto';

export interface SagaVersionsView {
  registered: RegisteredDefinitionView[];
  /** Open sagas per definition version, counted now. */
  open: OpenSagasOfVersion[];
}

/** The saga definition versions this instance drives, and an admin's move between them. */
@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin/saga-versions')
export class SagaVersionsController {
  constructor(
    private readonly versions: SagaVersions,
    private readonly console: ConsoleActionsService,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'The definition versions this instance registers, with their steps, and the open sagas per definition version (counted now)',
  })
  async list(): Promise<SagaVersionsView> {
    const open = await this.versions.check();
    return {
      registered: this.versions.registeredDefinitions(),
      open,
    };
  }

  @Post('move')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Move every open saga of one definition version onto another this instance registers, with a reason written to the audit log; answers how many moved. 409 SAGA_VERSION_NOT_REGISTERED (target unknown here), 409 SAGA_VERSION_INCOMPATIBLE (a saga has been through other steps: none moved)',
  })
  move(
    @Body() dto: SagaVersionMoveDto,
    @Req() request: AdminRequest,
  ): Promise<VersionMoveActionResult> {
    return this.console.moveVersion(
      {
        from: { name: dto.from.name, version: dto.from.version },
        to: { name: dto.to.name, version: dto.to.version },
      },
      adminNameOf(request),
      dto.reason,
    );
  }
}
