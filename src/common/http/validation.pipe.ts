import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { DomainError } from '../errors/domain-error';

function flatten(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) =>
      text.startsWith(error.property) ? `${path}${text.slice(error.property.length)}` : text,
    );
    return [...own, ...flatten(error.children ?? [], path)];
  });
}

/**
 * A body DTO may check by hand what its decorators accept (`static acceptsPlain`): a body it
 * accepts becomes its instance at once, as class-transformer would make it; any other goes
 * through class-validator, which answers with the messages.
 */
interface FastCheckedDto {
  new (): object;
  acceptsPlain?: (body: unknown) => boolean;
}

class DtoValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const dto = metadata.metatype as FastCheckedDto | undefined;
    if (metadata.type === 'body' && dto?.acceptsPlain?.(value) === true) {
      return Promise.resolve(Object.assign(new dto(), value));
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

/**
 * Whitelisting, unknown fields refused, payloads transformed into their DTO classes.
 * `handChecks: false` leaves every body to class-validator (the reference the fast path is
 * tested against).
 */
export function createValidationPipe({ handChecks = true } = {}): ValidationPipe {
  return new (handChecks ? DtoValidationPipe : ValidationPipe)({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    exceptionFactory: (errors) => {
      const problems = flatten(errors);
      return new DomainError('VALIDATION_FAILED', problems.join('; ') || 'Invalid request', {
        errors: problems,
      });
    },
  });
}
