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
  ValidationArguments,
} from 'class-validator';
import { DomainError } from '../errors/domain-error';
import { isMoney } from '../money';

/**
 * What an identifier may hold: letters, digits, `.`, `_`, `:`, `-`, starting with a letter or a
 * digit. Nothing a URL, a log line, a Redis key or PostgreSQL could take differently.
 */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const ID_CHARACTERS = 'letters, digits, ".", "_", ":" and "-", starting with a letter or digit';

/** The identifiers of the API and their longest forms. */
export const ID_RULES = {
  /** A user or item id (the columns are varchar(50)). */
  entity: { maxLength: 50, example: 'user-123' },
  /** A saga's transaction id (`TXN_<uuid>`; older ids are shorter). */
  transaction: { maxLength: 100, example: 'TXN_01936f7e-8a4b-7c1d-9e2f-3a4b5c6d7e8f' },
} as const;

export type IdKind = keyof typeof ID_RULES;

export function isIdentifier(value: unknown, kind: IdKind): value is string {
  return (
    typeof value === 'string' && value.length <= ID_RULES[kind].maxLength && ID_PATTERN.test(value)
  );
}

function identifierRule(name: string, kind: IdKind): string {
  return `${name} must be 1-${ID_RULES[kind].maxLength} ${ID_CHARACTERS}`;
}

/** C0 controls but tab, line feed and carriage return; DEL; the C1 controls. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Text PostgreSQL stores as given: well-formed Unicode (no lone surrogate), no NUL or control. */
export function isPlainText(value: unknown): value is string {
  return typeof value === 'string' && value.isWellFormed() && !CONTROL.test(value);
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
      message: (args: ValidationArguments) => identifierRule(args.property, 'entity'),
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
    const rule = identifierRule(this.name, this.kind);
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
        validate: (value: unknown) =>
          typeof value === 'number' && Number.isFinite(value) && isMoney(String(value)),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'value'} must be a number with at most 2 decimals`,
      },
    }),
    Min(min),
    Max(max),
  );
}
