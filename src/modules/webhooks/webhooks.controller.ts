import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Query,
  UseGuards,
  type PipeTransform,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { AdminGuard } from '../../common/auth/admin.guard';
import { DomainError } from '../../common/errors/domain-error';
import { INTEGRATION_EVENT_TYPES } from '../events/integration-event';
import { CreateWebhookDto, ListDeliveriesQuery, UpdateWebhookDto } from './dto/webhook.dto';
import {
  WebhooksService,
  type DeliveryView,
  type WebhookView,
  type WebhookWithSecret,
} from './webhooks.service';

/** GET /admin/webhooks. */
export interface WebhookList {
  /** WEBHOOKS_ENABLED: false, endpoints may be managed but nothing is sent (test, resend: 409). */
  enabled: boolean;
  eventTypes: string[];
  webhooks: WebhookView[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Refuses a path id that is no UUID before it reaches the database. */
class UuidPipe implements PipeTransform<unknown, string> {
  constructor(private readonly name: string) {}

  transform(value: unknown): string {
    if (typeof value === 'string' && UUID.test(value)) return value.toLowerCase();
    const rule = `${this.name} must be a UUID`;
    throw new DomainError('VALIDATION_FAILED', rule, { errors: [rule] });
  }
}

function UuidParam(name: string): ParameterDecorator {
  return (target, key, index) => {
    Param(name, new UuidPipe(name))(target, key, index);
    if (key === undefined) return;
    const method: unknown = (target as Record<string | symbol, unknown>)[key];
    ApiParam({ name, schema: { type: 'string', format: 'uuid' } })(target, key, {
      value: method,
    });
  };
}

@ApiTags('admin')
@ApiBearerAuth()
@UseGuards(AdminGuard)
@Controller('admin')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post('webhooks')
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Register a webhook endpoint; answers its signing secret (whsec_…), shown only here and on rotation',
  })
  create(@Body() dto: CreateWebhookDto): Promise<WebhookWithSecret> {
    return this.webhooks.create(dto.url, dto.events, dto.description);
  }

  @Get('webhooks')
  @ApiOperation({
    summary:
      'The webhook endpoints (without their secrets), whether deliveries are on (WEBHOOKS_ENABLED) and the event types an endpoint may take',
  })
  async list(): Promise<WebhookList> {
    return {
      enabled: this.webhooks.deliveriesEnabled,
      eventTypes: [...INTEGRATION_EVENT_TYPES],
      webhooks: await this.webhooks.list(),
    };
  }

  @Get('webhooks/:id')
  @ApiOperation({ summary: 'One webhook endpoint, with its failure streak' })
  get(@UuidParam('id') id: string): Promise<WebhookView> {
    return this.webhooks.get(id);
  }

  @Patch('webhooks/:id')
  @ApiOperation({
    summary:
      'Change a webhook endpoint: url, events, description, enabled (true resumes a disabled one)',
  })
  update(@UuidParam('id') id: string, @Body() dto: UpdateWebhookDto): Promise<WebhookView> {
    return this.webhooks.update(id, {
      url: dto.url,
      events: dto.events,
      description: dto.description,
      enabled: dto.enabled,
    });
  }

  @Delete('webhooks/:id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a webhook endpoint and its deliveries' })
  remove(@UuidParam('id') id: string): Promise<void> {
    return this.webhooks.remove(id);
  }

  @Post('webhooks/:id/rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'A new signing secret, answered once; the old one stops at once' })
  rotate(@UuidParam('id') id: string): Promise<WebhookWithSecret> {
    return this.webhooks.rotateSecret(id);
  }

  @Post('webhooks/:id/test')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send a synthetic webhook.test event through the normal delivery path' })
  test(@UuidParam('id') id: string): Promise<{ deliveryId: string; eventId: string }> {
    return this.webhooks.sendTest(id);
  }

  @Get('webhooks/:id/deliveries')
  @ApiOperation({ summary: "A webhook endpoint's latest deliveries, newest first, with attempts" })
  async deliveries(
    @UuidParam('id') id: string,
    @Query() query: ListDeliveriesQuery,
  ): Promise<{ deliveries: DeliveryView[] }> {
    return { deliveries: await this.webhooks.deliveries(id, query.limit, query.status) };
  }

  @Post('webhooks/:id/resend-failed')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send every failed delivery of a webhook endpoint again' })
  resendFailed(@UuidParam('id') id: string): Promise<{ resent: number }> {
    return this.webhooks.resendFailed(id);
  }

  @Post('webhook-deliveries/:id/resend')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send one webhook delivery again, with a fresh retry schedule' })
  resend(
    @UuidParam('id') id: string,
  ): Promise<{ id: string; webhookId: string; status: 'pending' }> {
    return this.webhooks.resend(id);
  }
}
