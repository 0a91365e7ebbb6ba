import { applyDecorators, Param, PipeTransform } from '@nestjs/common';
import { ApiParam, ApiProperty, ApiPropertyOptions } from '@nestjs/swagger';
import {
  isEmail,
  IsNotEmpty,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateIf,
  ValidationArguments,
} from 'class-validator';
import { DomainError } from '../errors/domain-error';
import { ID_PATTERN, ID_RULES, identifierRule, isIdentifier, type IdKind } from '../identifiers';
import { isMoney } from '../money';

/** C0 controls but tab, line feed and carriage return; DEL; the C1 controls. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Text PostgreSQL stores as given: well-formed Unicode (no lone surrogate), no NUL or control. */
export function isPlainText(value: unknown): value is string {
  return typeof value === 'string' && value.isWellFormed() && !CONTROL.test(value);
}

/**
 * A body field that may be left out (then its default applies), but not sent as `null`: unlike
 * class-validator's IsOptional, a `null` is checked by the field's rules and refused by them.
 */
export function IsOmittable(): PropertyDecorator {
  return ValidateIf((_object: object, value: unknown) => value !== undefined);
}

/** A user or item id in a body or a query: see ID_RULES. */
export function IsEntityId(options: ApiPropertyOptions = {}): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      minLength: 1,
      maxLength: ID_RULES.entity.maxLength,
      pattern: ID_PATTERN.source,
      example: ID_RULES.entity.example,
      ...options,
    }),
    IsString(),
    IsNotEmpty(),
    MaxLength(ID_RULES.entity.maxLength),
    Matches(ID_PATTERN, {
      message: (args: ValidationArguments) =>
        `${args.property} must be ${identifierRule('entity')}`,
    }),
  );
}

/** An identifier of the given kind (a transaction id...) in a body or a query: see ID_RULES. */
export function IsIdentifier(kind: IdKind, options: ApiPropertyOptions = {}): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      minLength: 1,
      maxLength: ID_RULES[kind].maxLength,
      pattern: ID_PATTERN.source,
      example: ID_RULES[kind].example,
      ...options,
    }),
    IsString(),
    IsNotEmpty(),
    MaxLength(ID_RULES[kind].maxLength),
    Matches(ID_PATTERN, {
      message: (args: ValidationArguments) => `${args.property} must be ${identifierRule(kind)}`,
    }),
  );
}

/** Free text (names, descriptions): a string of at most `maxLength` characters, see isPlainText. */
export function IsPlainText(
  maxLength: number,
  options: ApiPropertyOptions = {},
): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ maxLength, ...options }),
    IsString(),
    MaxLength(maxLength),
    ValidateBy({
      name: 'isPlainText',
      validator: {
        validate: (value: unknown) => typeof value !== 'string' || isPlainText(value),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'value'} must be well-formed Unicode text without NUL or control characters`,
      },
    }),
  );
}

/** An e-mail address, of at most 255 characters. */
export function IsEmailAddress(options: ApiPropertyOptions = {}): PropertyDecorator {
  return applyDecorators(
    ApiProperty({ maxLength: 255, example: 'jane@example.com', ...options }),
    MaxLength(255),
    ValidateBy({
      name: 'isEmailAddress',
      validator: {
        // validator.js's isEmail throws on a lone surrogate: only plain text reaches it.
        validate: (value: unknown) => isPlainText(value) && isEmail(value),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'value'} must be an email`,
      },
    }),
  );
}

/** Refuses a path parameter that is not an identifier of its kind, naming it. */
class IdentifierPipe implements PipeTransform<unknown, string> {
  constructor(
    private readonly name: string,
    private readonly kind: IdKind,
  ) {}

  transform(value: unknown): string {
    if (isIdentifier(value, this.kind)) return value;
    const rule = `${this.name} must be ${identifierRule(this.kind)}`;
    throw new DomainError('VALIDATION_FAILED', rule, { errors: [rule] });
  }
}

/** A path parameter holding an identifier (see ID_RULES), checked and documented as such. */
export function IdParam(name: string, kind: IdKind = 'entity'): ParameterDecorator {
  return (target, key, index) => {
    Param(name, new IdentifierPipe(name, kind))(target, key, index);
    if (key === undefined) return;
    const method: unknown = (target as Record<string | symbol, unknown>)[key];
    ApiParam({
      name,
      schema: {
        type: 'string',
        minLength: 1,
        maxLength: ID_RULES[kind].maxLength,
        pattern: ID_PATTERN.source,
        example: ID_RULES[kind].example,
      },
    })(target, key, { value: method });
  };
}

/** A JSON number with at most 2 decimals (IsMoneyAmount's own rule, before its bounds). */
export function isMoneyNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && isMoney(String(value));
}

/** An amount of money as a JSON number with at most 2 decimals. */
export function IsMoneyAmount(
  min: number,
  max: number,
  options: ApiPropertyOptions = {},
): PropertyDecorator {
  return applyDecorators(
    ApiProperty({
      type: Number,
      minimum: min,
      maximum: max,
      example: 100,
      ...options,
    }),
    // class-validator's maxDecimalPlaces throws on numbers it prints in exponent form (1e-7).
    ValidateBy({
      name: 'isMoneyAmount',
      validator: {
        validate: isMoneyNumber,
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'value'} must be a number with at most 2 decimals`,
      },
    }),
    Min(min),
    Max(max),
  );
}
