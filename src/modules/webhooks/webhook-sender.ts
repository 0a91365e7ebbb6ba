import { isIP } from 'node:net';
import { Agent, errors as undiciErrors } from 'undici';
import { errorMessage } from '../../common/errors/error-message';
import { ForbiddenAddressError, guardedLookup, hostOf, isForbiddenAddress } from './address-policy';
import { signWebhook } from './webhook-signature';

/** How much of an endpoint's answer is kept with the attempt. */
export const EXCERPT_BYTES = 1024;

/** How an attempt ended (the `result` label of webhook_attempts_total). */
export type AttemptOutcome = 'delivered' | 'http_error' | 'timeout' | 'refused' | 'network_error';

export interface AttemptResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  latencyMs: number;
  /** The start of the answer's body (at most EXCERPT_BYTES, as text). */
  excerpt: string | null;
  /** Why it failed, without the URL (it may hold a token). */
  error: string | null;
}

/** One delivery attempt: the event's JSON, signed with the endpoint's secret. */
export interface WebhookRequest {
  url: string;
  secret: string;
  eventId: string;
  body: string;
  traceParent: string | null;
}

export interface SenderOptions {
  timeoutMs: number;
  allowPrivateUrls: boolean;
}

class TimeoutError extends Error {}

/**
 * Posts signed webhook requests over kept-alive connections (undici: a pool per origin, at about
 * a third of node:http's CPU per request). The deadline covers the connection, the status line
 * and the excerpt read; the addresses connected to are checked as they are resolved (SSRF), not
 * only when the endpoint was registered.
 */
export class WebhookSender {
  private readonly agent: Agent;

  constructor(private readonly options: SenderOptions) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      // Each request gets the whole deadline; undici's own timers only back it up.
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connect: {
        timeout: options.timeoutMs,
        ...(options.allowPrivateUrls ? {} : { lookup: guardedLookup }),
      },
    });
  }

  /** Closes the kept-alive connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  async send(req: WebhookRequest): Promise<AttemptResult> {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    try {
      const { statusCode, excerpt } = await this.post(req);
      const delivered = statusCode >= 200 && statusCode < 300;
      return {
        outcome: delivered ? 'delivered' : 'http_error',
        statusCode,
        latencyMs: latency(),
        excerpt,
        error: delivered ? null : `HTTP ${statusCode}`,
      };
    } catch (error) {
      const outcome: AttemptOutcome =
        error instanceof TimeoutError
          ? 'timeout'
          : error instanceof ForbiddenAddressError
            ? 'refused'
            : 'network_error';
      return {
        outcome,
        statusCode: null,
        latencyMs: latency(),
        excerpt: null,
        error: errorMessage(error).slice(0, 300),
      };
    }
  }

  private async post(req: WebhookRequest): Promise<{ statusCode: number; excerpt: string }> {
    const url = new URL(req.url);
    const host = hostOf(url);
    if (!this.options.allowPrivateUrls && isIP(host) !== 0 && isForbiddenAddress(host)) {
      throw new ForbiddenAddressError(host);
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'saga-webhooks/1',
      ...signWebhook(req.secret, req.eventId, Math.floor(Date.now() / 1000), req.body),
    };
    if (req.traceParent !== null) headers.traceparent = req.traceParent;
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new TimeoutError(`no answer within ${this.options.timeoutMs} ms`)),
      this.options.timeoutMs,
    );
    try {
      const response = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers,
        body: req.body,
        signal: deadline.signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        size += chunk.length;
        // The rest of a long answer is of no use: the connection is dropped instead of read.
        if (size >= EXCERPT_BYTES) {
          response.body.destroy();
          break;
        }
      }
      const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
      return { statusCode: response.statusCode, excerpt };
    } catch (error) {
      throw unwrap(error, deadline.signal);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The error an attempt failed with, as the outcome classifies it. */
function unwrap(error: unknown, deadline: AbortSignal): unknown {
  if (deadline.aborted) return deadline.reason as unknown;
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new TimeoutError(error.message);
  }
  // A refused address surfaces from the connection's lookup, possibly wrapped.
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof ForbiddenAddressError) return cause;
  return error;
}
