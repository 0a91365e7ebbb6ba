import { BadRequestException, HttpException, Logger, NotFoundException } from '@nestjs/common';
import type { ArgumentsHost } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { DomainError, TooManyRequestsError } from '../errors/domain-error';
import { AllExceptionsFilter, toErrorBody } from './all-exceptions.filter';

/** An error as Fastify raises its own: a statusCode and an FST_ code. */
function fastify(code: string, statusCode: number, message = 'raw'): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

describe('toErrorBody', () => {
  it('maps a domain error to its HTTP status, keeping its details', () => {
    expect(toErrorBody(new DomainError('INSUFFICIENT_STOCK', 'none left', { left: 0 }))).toEqual({
      statusCode: 409,
      errorCode: 'INSUFFICIENT_STOCK',
      message: 'none left',
      details: { left: 0 },
    });
    expect(toErrorBody(new DomainError('UNAUTHORIZED', 'no'))).toEqual({
      statusCode: 401,
      errorCode: 'UNAUTHORIZED',
      message: 'no',
    });
  });

  it("maps the framework's HTTP exceptions, joining validation messages", () => {
    expect(toErrorBody(new BadRequestException(['a is bad', 'b is bad']))).toEqual({
      statusCode: 400,
      errorCode: 'VALIDATION_FAILED',
      message: 'a is bad; b is bad',
    });
    expect(toErrorBody(new NotFoundException('Cannot GET /nope'))).toMatchObject({
      statusCode: 404,
      errorCode: 'NOT_FOUND',
    });
    expect(toErrorBody(new HttpException('teapot', 418))).toEqual({
      statusCode: 418,
      errorCode: 'VALIDATION_FAILED',
      message: 'teapot',
    });
    expect(toErrorBody(new HttpException({ other: 1 }, 502))).toEqual({
      statusCode: 502,
      errorCode: 'INTERNAL_ERROR',
      message: 'Request failed',
    });
    expect(
      toErrorBody(new BadRequestException('Unexpected token } in JSON at position 3')),
    ).toEqual({ statusCode: 400, errorCode: 'VALIDATION_FAILED', message: 'Malformed JSON body' });
  });

  it("maps Fastify's own errors without echoing the parser", () => {
    expect(toErrorBody(fastify('FST_ERR_CTP_INVALID_JSON_BODY', 400))).toEqual({
      statusCode: 400,
      errorCode: 'VALIDATION_FAILED',
      message: 'Malformed JSON body',
    });
    expect(toErrorBody(fastify('FST_ERR_CTP_BODY_TOO_LARGE', 413))).toEqual({
      statusCode: 413,
      errorCode: 'PAYLOAD_TOO_LARGE',
      message: 'Request body is too large',
    });
    expect(toErrorBody(fastify('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 'bad type'))).toEqual({
      statusCode: 415,
      errorCode: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'bad type',
    });
    expect(toErrorBody(fastify('FST_ERR_SOMETHING', 422, 'odd'))).toEqual({
      statusCode: 422,
      errorCode: 'VALIDATION_FAILED',
      message: 'odd',
    });
    // A 5xx from Fastify, or an error that only looks like one, is not trusted.
    expect(toErrorBody(fastify('FST_ERR_X', 500)).statusCode).toBe(500);
    expect(toErrorBody(fastify('NOT_FASTIFY', 400)).statusCode).toBe(500);
  });

  it("names the router's refusals without echoing the URL", () => {
    expect(toErrorBody(fastify('FST_ERR_BAD_URL', 400, "'/users/%fe' is not valid"))).toEqual({
      statusCode: 400,
      errorCode: 'VALIDATION_FAILED',
      message: 'The URL is not validly percent-encoded UTF-8',
    });
    expect(toErrorBody(fastify('FST_ERR_MAX_PARAM', 414, "'/saga/xxx' is too long"))).toEqual({
      statusCode: 414,
      errorCode: 'VALIDATION_FAILED',
      message: 'A path parameter is longer than 100 characters',
    });
  });

  it('answers 400 for a value the database refused (SQLSTATE class 22), without its SQL', () => {
    const refused = (code: string) =>
      toErrorBody(Object.assign(new Error('invalid byte sequence, SQL: INSERT ...'), { code }));
    expect(refused('22021')).toEqual({
      statusCode: 400,
      errorCode: 'VALIDATION_FAILED',
      message: 'A value of the request cannot be stored (invalid text or format)',
    });
    expect(refused('22003').message).toBe('A number is out of the range the service can store');
    expect(refused('22001').message).toBe('A text is longer than the service can store');
    // Other statement errors stay the service's own fault.
    expect(refused('23514').statusCode).toBe(500);
  });

  it('answers 400 for bad JSON, 503 for a lost database, and 500 without detail otherwise', () => {
    expect(toErrorBody(new SyntaxError('Unexpected end of JSON input'))).toMatchObject({
      statusCode: 400,
      message: 'Malformed JSON body',
    });
    expect(toErrorBody(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toMatchObject({
      statusCode: 503,
      errorCode: 'SERVICE_UNAVAILABLE',
    });
    const body = toErrorBody(new Error('relation "users" does not exist at SELECT ...'));
    expect(body).toEqual({
      statusCode: 500,
      errorCode: 'INTERNAL_ERROR',
      message: 'Internal server error',
    });
    expect(toErrorBody('a string')).toMatchObject({ statusCode: 500 });
  });
});

describe('AllExceptionsFilter', () => {
  function host(): {
    host: ArgumentsHost;
    sent: unknown[];
    statuses: number[];
    headers: Record<string, string>;
  } {
    const sent: unknown[] = [];
    const statuses: number[] = [];
    const headers: Record<string, string> = {};
    const reply = {
      header(name: string, value: string) {
        headers[name] = value;
        return this;
      },
      status(code: number) {
        statuses.push(code);
        return this;
      },
      send(body: unknown) {
        sent.push(body);
        return this;
      },
    };
    // Nest's own host over an HTTP call's arguments: the request, then the reply.
    const argumentsHost = new ExecutionContextHost([{ id: 'req-7' }, reply]);
    return { host: argumentsHost, sent, statuses, headers };
  }

  it('answers a request turned away with 429 and Retry-After in whole seconds', () => {
    const filter = new AllExceptionsFilter();
    const limited = host();
    filter.catch(new TooManyRequestsError('RATE_LIMITED', 'slow down', 2.2), limited.host);
    expect(limited.statuses).toEqual([429]);
    expect(limited.headers).toEqual({ 'retry-after': '3' });
    expect(limited.sent).toEqual([
      { statusCode: 429, errorCode: 'RATE_LIMITED', message: 'slow down' },
    ]);
    const busy = host();
    filter.catch(new TooManyRequestsError('REPORTING_BUSY', 'busy', 0), busy.host);
    expect(busy.statuses).toEqual([429]);
    expect(busy.headers).toEqual({ 'retry-after': '1' });
    const other = host();
    filter.catch(new DomainError('USER_NOT_FOUND', 'who?'), other.host);
    expect(other.headers).toEqual({});
  });

  it('sends the body with its status and logs server errors only', () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const filter = new AllExceptionsFilter();
    const refused = host();
    filter.catch(new DomainError('USER_NOT_FOUND', 'who?'), refused.host);
    expect(refused.statuses).toEqual([404]);
    expect(refused.sent).toEqual([
      { statusCode: 404, errorCode: 'USER_NOT_FOUND', message: 'who?' },
    ]);
    expect(error).not.toHaveBeenCalled();

    const crashed = host();
    filter.catch(new Error('boom'), crashed.host);
    filter.catch('not an error', crashed.host);
    expect(crashed.statuses).toEqual([500, 500]);
    expect(error).toHaveBeenCalledTimes(2);
    // With the request's id, to find the request's own line.
    expect(error).toHaveBeenCalledWith(
      expect.objectContaining({ errorCode: 'INTERNAL_ERROR', reqId: 'req-7' }),
      'boom',
    );
    error.mockRestore();
  });

  it('warns when a value the database refused got past validation', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const refused = host();
    new AllExceptionsFilter().catch(
      Object.assign(new Error('invalid byte sequence'), { code: '22021' }),
      refused.host,
    );
    expect(refused.statuses).toEqual([400]);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ reqId: 'req-7' }),
      expect.stringMatching(/^A value the database refused reached it/),
    );
    warn.mockRestore();
  });
});
