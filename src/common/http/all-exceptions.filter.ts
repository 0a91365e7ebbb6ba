import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, TooManyRequestsError } from '../errors/domain-error';
import { dataErrorMessage, isDatabaseUnavailable } from '../errors/database-errors';
import { ErrorCode, httpStatusOf } from '../errors/error-codes';
import { MAX_PATH_PARAM_LENGTH } from '../identifiers';

export interface ErrorBody {
  statusCode: number;
  errorCode: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

const CODE_BY_HTTP_STATUS: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  503: 'SERVICE_UNAVAILABLE',
};

/** Fastify's own errors (body parsing, size limits) carry a statusCode and an FST_ code. */
function fastifyError(
  error: unknown,
): { statusCode: number; code: string; message: string } | null {
  if (typeof error !== 'object' || error === null) return null;
  const record = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof record.statusCode !== 'number' || typeof record.code !== 'string') return null;
  if (!record.code.startsWith('FST_')) return null;
  return { statusCode: record.statusCode, code: record.code, message: String(record.message) };
}

function messageOf(response: string | object): string {
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : 'Request failed';
}

/** The one place where errors become HTTP answers: `{statusCode, errorCode, message}`. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof DomainError) {
    const body: ErrorBody = {
      statusCode: httpStatusOf(error.code),
      errorCode: error.code,
      message: error.message,
    };
    if (error.details !== undefined) body.details = error.details;
    return body;
  }
  if (error instanceof HttpException) {
    const statusCode = error.getStatus();
    const errorCode =
      CODE_BY_HTTP_STATUS[statusCode] ??
      (statusCode >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_FAILED');
    const message = messageOf(error.getResponse());
    // The body parser's own wording names the parser, not the problem.
    if (statusCode === 400 && /not valid JSON|Unexpected token|JSON at position/i.test(message)) {
      return { statusCode, errorCode, message: 'Malformed JSON body' };
    }
    return { statusCode, errorCode, message };
  }
  const fastify = fastifyError(error);
  if (fastify !== null && fastify.statusCode < 500) {
    const errorCode = CODE_BY_HTTP_STATUS[fastify.statusCode] ?? 'VALIDATION_FAILED';
    const message =
      /JSON/.test(fastify.code) || error instanceof SyntaxError
        ? 'Malformed JSON body'
        : fastify.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? 'Request body is too large'
          : fastify.code === 'FST_ERR_BAD_URL'
            ? 'The URL is not validly percent-encoded UTF-8'
            : fastify.statusCode === 414
              ? `A path parameter is longer than ${MAX_PATH_PARAM_LENGTH} characters`
              : fastify.message;
    return { statusCode: fastify.statusCode, errorCode, message };
  }
  if (error instanceof SyntaxError && /JSON/.test(error.message)) {
    return { statusCode: 400, errorCode: 'VALIDATION_FAILED', message: 'Malformed JSON body' };
  }
  // A second line behind validation: a value the database refused is the request's fault.
  const dataError = dataErrorMessage(error);
  if (dataError !== undefined) {
    return { statusCode: 400, errorCode: 'VALIDATION_FAILED', message: dataError };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      statusCode: 503,
      errorCode: 'SERVICE_UNAVAILABLE',
      message: 'The database cannot be reached; try again later',
    };
  }
  return { statusCode: 500, errorCode: 'INTERNAL_ERROR', message: 'Internal server error' };
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const body = toErrorBody(exception);
    if (dataErrorMessage(exception) !== undefined) {
      // Validation let through a value the database refused: answered 400, worth a rule.
      this.logger.warn(
        { err: exception, reqId: http.getRequest<FastifyRequest>().id },
        `A value the database refused reached it: ${body.message}`,
      );
    }
    if (body.statusCode >= 500) {
      this.logger.error(
        { err: exception, errorCode: body.errorCode, reqId: http.getRequest<FastifyRequest>().id },
        exception instanceof Error ? exception.message : 'Unhandled error',
      );
    }
    if (exception instanceof TooManyRequestsError) {
      void reply.header('retry-after', String(Math.max(1, Math.ceil(exception.retryAfterSeconds))));
    }
    void reply.status(body.statusCode).send(body);
  }
}
