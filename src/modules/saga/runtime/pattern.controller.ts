import { Body, Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../../common/auth/admin.guard';
import { RateLimit } from '../../../common/http/rate-limit';
import { SAGA_PATTERNS, type SagaPattern } from '../../../config/configuration';
import { SagaModeDto } from './dto/saga-mode.dto';
import { PatternControl } from './pattern-control';
import { SagaReportsService } from '../read-model/saga-reports.service';
import type { PatternStatistics } from '../read-model/saga-statistics';

interface SagaModeView {
  success: true;
  config: { mode: SagaPattern; validModes: readonly SagaPattern[] };
  activeHandlers: Record<SagaPattern, boolean>;
  note: string;
}

@ApiTags('patterns')
@Controller()
export class PatternController {
  constructor(
    private readonly patterns: PatternControl,
    private readonly reports: SagaReportsService,
  ) {}

  @Get('config/saga-mode')
  @UseGuards(AdminGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The pattern new purchases use when they name none (admin)' })
  mode(): SagaModeView {
    return this.view();
  }

  @Post('config/saga-mode')
  @HttpCode(200)
  @UseGuards(AdminGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'Switch the default pattern for new purchases (admin)' })
  async switchMode(
    @Body() dto: SagaModeDto,
  ): Promise<SagaModeView & { previousMode: SagaPattern }> {
    const { previous } = await this.patterns.switchTo(dto.mode);
    return { ...this.view(), previousMode: previous };
  }

  @Get('patterns/comparison')
  @RateLimit('reports')
  @ApiOperation({
    summary: 'The two patterns side by side, with their figures exact as of `asOf`',
  })
  async comparison(): Promise<{
    currentMode: SagaPattern;
    patterns: Record<
      SagaPattern,
      PatternDescription & { active: boolean; statistics: PatternStatistics }
    >;
    statusEndpoints: Record<SagaPattern, string>;
    statisticsEndpoints: Record<SagaPattern, string>;
    configEndpoints: Record<string, string>;
    asOf: Date;
  }> {
    const { patterns: stats, asOf } = await this.reports.patternStatistics();
    const current = this.patterns.current;
    const entry = (pattern: SagaPattern) => ({
      ...DESCRIPTIONS[pattern],
      active: pattern === current,
      statistics: stats[pattern],
    });
    return {
      currentMode: current,
      patterns: { orchestration: entry('orchestration'), choreography: entry('choreography') },
      statusEndpoints: {
        orchestration: '/saga/{transactionId}',
        choreography: '/choreography/transaction/{transactionId}',
      },
      statisticsEndpoints: { orchestration: '/sagas/stats', choreography: '/choreography/stats' },
      configEndpoints: {
        getCurrentConfig: 'GET /config/saga-mode',
        switchMode: 'POST /config/saga-mode',
        note: 'Switching takes effect for new purchases at once; sagas in flight finish in their own pattern',
      },
      asOf,
    };
  }

  private view(): SagaModeView {
    const mode = this.patterns.current;
    return {
      success: true,
      config: { mode, validModes: SAGA_PATTERNS },
      // Both engines always run: each saga is advanced only by the pattern it was started with.
      activeHandlers: { orchestration: true, choreography: true },
      note: 'The mode picks the pattern of new purchases that name none, on every instance; sagas in flight keep theirs',
    };
  }
}

interface PatternDescription {
  endpoint: string;
  description: string;
  characteristics: string[];
  advantages: string[];
  disadvantages: string[];
}

const DESCRIPTIONS: Record<SagaPattern, PatternDescription> = {
  orchestration: {
    endpoint: '/purchase',
    description: 'Centralized control: an orchestrator calls each step and compensates in reverse',
    characteristics: [
      'Central orchestrator manages all steps',
      'Direct calls to the step objects',
      'Sequential execution with error handling',
    ],
    advantages: ['Easy to understand', 'Clear control flow', 'Simple debugging'],
    disadvantages: ['The orchestrator knows every participant', 'Central point of change'],
  },
  choreography: {
    endpoint: '/purchase/choreography',
    description:
      'Event-driven: each participant reacts to the previous event through a transactional outbox',
    characteristics: [
      'Independent participants per domain',
      'Events written in the same transaction as the state change',
      'Compensation by events, newest step first',
    ],
    advantages: [
      'Loose coupling',
      'Participants added without touching the others',
      'No lost events (outbox)',
    ],
    disadvantages: [
      'Harder to follow',
      'More events and writes per purchase',
      'Event ordering to reason about',
    ],
  },
};
