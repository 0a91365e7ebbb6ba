import type { ArgumentMetadata } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsString, Min, ValidateNested } from 'class-validator';
import { DomainError } from '../errors/domain-error';
import { createValidationPipe } from './validation.pipe';

class Line {
  @IsInt()
  @Min(1)
  quantity!: number;
}

class Order {
  @IsString()
  userId!: string;

  @ValidateNested()
  @Type(() => Line)
  line!: Line;
}

const body: ArgumentMetadata = { type: 'body', metatype: Order };

async function refusal(value: unknown): Promise<DomainError> {
  try {
    await createValidationPipe().transform(value, body);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  throw new Error('The payload was accepted');
}

describe('createValidationPipe', () => {
  it('transforms a valid payload into its class', async () => {
    const order: unknown = await createValidationPipe().transform(
      { userId: 'user-1', line: { quantity: 2 } },
      body,
    );
    expect(order).toBeInstanceOf(Order);
    expect((order as Order).line).toBeInstanceOf(Line);
  });

  it('names nested fields by their path and lists every problem', async () => {
    const error = await refusal({ userId: 7, line: { quantity: 0 } });

    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual({
      errors: ['userId must be a string', 'line.quantity must not be less than 1'],
    });
    expect(error.message).toBe('userId must be a string; line.quantity must not be less than 1');
  });

  it('refuses unknown fields', async () => {
    const error = await refusal({ userId: 'user-1', line: { quantity: 1 }, admin: true });
    expect(error.details).toEqual({ errors: ['property admin should not exist'] });
  });

  it('still refuses when the validator gives no message', () => {
    const pipe = createValidationPipe();
    const error = pipe['exceptionFactory']([]) as DomainError;
    expect(error).toBeInstanceOf(DomainError);
    expect(error.message).toBe('Invalid request');
    expect(error.details).toEqual({ errors: [] });
  });
});
