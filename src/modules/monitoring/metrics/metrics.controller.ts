import { Controller, Get, Header } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { register } from 'prom-client';
import { NoRateLimit } from '../../../common/http/rate-limit';
import { ensureDefaultMetrics } from './metric-registry';

@ApiTags('operations')
@Controller('metrics')
@NoRateLimit()
export class MetricsController {
  constructor() {
    ensureDefaultMetrics();
  }

  @Get()
  @Header('Content-Type', register.contentType)
  @Header('Cache-Control', 'no-store')
  @ApiProduces(register.contentType)
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  metrics(): Promise<string> {
    return register.metrics();
  }
}
