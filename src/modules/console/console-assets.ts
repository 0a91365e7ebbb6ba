import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { toErrorBody } from '../../common/http/all-exceptions.filter';
import { DomainError } from '../../common/errors/domain-error';

export const CONSOLE_PATH = '/console/';

/**
 * Only the service's own files: no inline script, nothing from elsewhere. The shell is public;
 * every figure it shows comes from an admin route that needs the token.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where the console's built assets are (`npm run build` writes dist/console): looked for above
 * the running code, which is src/ (tests), dist/ (npm start) or the tests' own build.
 */
export function findConsoleAssets(from: string = __dirname): string | undefined {
  let dir = from;
  for (let up = 0; up < 6; up++) {
    const candidate = join(dir, 'dist', 'console');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/** Serves the operator console at /console/ (or says how to build it when it is missing). */
export function serveConsole(app: NestFastifyApplication, root: string | undefined): void {
  if (root === undefined) {
    const fastify = app.getHttpAdapter().getInstance();
    const missing = () =>
      toErrorBody(
        new DomainError(
          'NOT_FOUND',
          'The console is not built: run npm run build (it builds the console into dist/console)',
        ),
      );
    fastify.get('/console', (_request, reply) => void reply.status(404).send(missing()));
    fastify.get('/console/*', (_request, reply) => void reply.status(404).send(missing()));
    return;
  }
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/console', (_request, reply) => void reply.redirect(CONSOLE_PATH, 301));
  void fastify.register(fastifyStatic, {
    root,
    prefix: CONSOLE_PATH,
    index: 'index.html',
    decorateReply: false,
    setHeaders: (reply, path) => {
      void reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      void reply.header('X-Content-Type-Options', 'nosniff');
      void reply.header('Referrer-Policy', 'no-referrer');
      // Hashed asset names may be kept for ever; the page itself is always checked again.
      void reply.header(
        'Cache-Control',
        path.includes(join('console', 'assets'))
          ? 'public, max-age=31536000, immutable'
          : 'no-cache',
      );
    },
  });
}
