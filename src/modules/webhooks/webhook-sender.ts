import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
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
 * Posts signed webhook requests. The deadline covers the connection, the status line and the
 * excerpt read; the addresses connected to are checked as they are resolved (SSRF), not only
 * when the endpoint was registered.
 */
export class WebhookSender {
  constructor(private readonly options: SenderOptions) {}

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

  private post(req: WebhookRequest): Promise<{ statusCode: number; excerpt: string }> {
    const url = new URL(req.url);
    const host = hostOf(url);
    const guarded = !this.options.allowPrivateUrls;
    if (guarded && isIP(host) !== 0 && isForbiddenAddress(host)) {
      return Promise.reject(new ForbiddenAddressError(host));
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'saga-webhooks/1',
      ...signWebhook(req.secret, req.eventId, Math.floor(Date.now() / 1000), req.body),
    };
    if (req.traceParent !== null) headers.traceparent = req.traceParent;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const outgoing = send(url, {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(req.body)) },
        ...(guarded ? { lookup: guardedLookup } : {}),
      });
      const timer = setTimeout(
        () => outgoing.destroy(new TimeoutError(`no answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      const finish = (
        error: Error | undefined,
        result?: { statusCode: number; excerpt: string },
      ) => {
        clearTimeout(timer);
        if (result !== undefined) resolve(result);
        else reject(error ?? new Error('no answer'));
      };
      outgoing.on('error', (error) => finish(error));
      outgoing.on('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
          finish(undefined, { statusCode: response.statusCode ?? 0, excerpt });
        };
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          // The rest of a long answer is of no use: the connection is dropped instead of read.
          if (size >= EXCERPT_BYTES) {
            done();
            response.destroy();
          }
        });
        response.on('end', done);
        response.on('error', (error) => finish(error));
      });
      outgoing.end(req.body);
    });
  }
}
