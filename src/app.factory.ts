import { NestFactory } from '@nestjs/core';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { toErrorBody } from './common/http/all-exceptions.filter';
import { MAX_PATH_PARAM_LENGTH } from './common/identifiers';
import { requestIdOf } from './common/http/request-id';
import { logRequests } from './common/http/request-log';
import { createValidationPipe } from './common/http/validation.pipe';
import type { AppConfig, TrustProxy } from './config/configuration';
import { findConsoleAssets, serveConsole } from './modules/console/console-assets';

/** A hop count as Fastify applies it (its types leave numbers out): the first `hops` are proxies. */
function fastifyTrustProxy(
  trustProxy: TrustProxy,
): boolean | string | ((address: string, hop: number) => boolean) {
  if (typeof trustProxy !== 'number') return trustProxy;
  return (_address, hop) => hop < trustProxy;
}

/** Builds the HTTP application (not yet listening) for a resolved configuration. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    // Behind a proxy the client (its address in the logs, its rate limits) is X-Forwarded-For's.
    trustProxy: fastifyTrustProxy(config.trustProxy),
    genReqId: requestIdOf,
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Errors of Fastify's router (a URL that is not valid percent-encoded UTF-8) never reach
    // Nest's filter: answered in the same shape.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const body = toErrorBody(error);
      void reply.status(body.statusCode).send(body);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.useGlobalPipes(createValidationPipe());

  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  logRequests(fastify, PinoLogger.root);

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Purchase Saga Service')
      .setDescription(
        'Sells in-game items through a saga (debit, reserve stock, log, notify), run as orchestration or choreography.',
      )
      .setVersion('1.0')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json' });
  serveConsole(app, findConsoleAssets());
  await app.init();
  await fastify.ready();
  return app;
}
