import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CreateWebhookDto, ListDeliveriesQuery, UpdateWebhookDto } from './webhook.dto';

function errors<T extends object>(type: new () => T, body: Record<string, unknown>): string[] {
  const dto = plainToInstance(type, body);
  return validateSync(dto, { whitelist: true, forbidNonWhitelisted: true }).flatMap((error) =>
    Object.values(error.constraints ?? {}),
  );
}

describe('webhook DTOs', () => {
  it('takes a URL, types and a description', () => {
    expect(
      errors(CreateWebhookDto, {
        url: 'https://example.com/hooks',
        events: ['purchase.completed'],
        description: 'orders',
      }),
    ).toEqual([]);
  });

  it('names what is wrong with a URL', () => {
    expect(errors(CreateWebhookDto, { url: 42, events: ['x'] })).toEqual(
      expect.arrayContaining(['url must be a string']),
    );
    expect(errors(CreateWebhookDto, { url: 'gopher://x', events: ['x'] })).toEqual(
      expect.arrayContaining(['url must be an http or https URL']),
    );
    expect(errors(UpdateWebhookDto, { url: null })).toEqual(
      expect.arrayContaining(['url must be a string']),
    );
  });

  it('reads the deliveries query, refusing what is out of bounds', () => {
    expect(plainToInstance(ListDeliveriesQuery, {}).limit).toBe(50);
    expect(plainToInstance(ListDeliveriesQuery, { limit: '7' }).limit).toBe(7);
    expect(errors(ListDeliveriesQuery, { limit: '0' })).toHaveLength(1);
    expect(errors(ListDeliveriesQuery, { limit: 'x' })).toContain(
      'limit must be an integer number',
    );
    expect(errors(ListDeliveriesQuery, { status: 'sent' })).toHaveLength(1);
    expect(errors(ListDeliveriesQuery, { status: 'failed', limit: '100' })).toEqual([]);
  });
});
