import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findConsoleAssets, serveConsole } from './console-assets';

function appOn(fastify: FastifyInstance): NestFastifyApplication {
  return { getHttpAdapter: () => ({ getInstance: () => fastify }) } as NestFastifyApplication;
}

describe('the console assets', () => {
  let dir: string;
  let fastify: FastifyInstance;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'console-assets-'));
    fastify = Fastify();
  });

  afterEach(async () => {
    await fastify.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are found in dist/console above the running code, or not at all', () => {
    mkdirSync(join(dir, 'dist', 'console'), { recursive: true });
    mkdirSync(join(dir, 'dist', 'modules', 'console'), { recursive: true });
    expect(findConsoleAssets(join(dir, 'dist', 'modules', 'console'))).toBeUndefined();
    writeFileSync(join(dir, 'dist', 'console', 'index.html'), '<!doctype html>');
    expect(findConsoleAssets(join(dir, 'dist', 'modules', 'console'))).toBe(
      join(dir, 'dist', 'console'),
    );
  });

  it('are served under /console/ with a strict policy; hashed assets are cached for ever', async () => {
    const root = join(dir, 'dist', 'console');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>console</title>');
    writeFileSync(join(root, 'assets', 'index-abc.js'), 'console.log(1)');
    serveConsole(appOn(fastify), root);

    const bare = await fastify.inject('/console');
    expect([bare.statusCode, bare.headers.location]).toEqual([301, '/console/']);
    const page = await fastify.inject('/console/');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<title>console</title>');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['cache-control']).toBe('no-cache');
    const script = await fastify.inject('/console/assets/index-abc.js');
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await fastify.inject('/console/nope.js')).statusCode).toBe(404);
  });

  it('say how to build them when they are missing', async () => {
    serveConsole(appOn(fastify), undefined);
    for (const url of ['/console', '/console/', '/console/assets/x.js']) {
      const res = await fastify.inject(url);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ statusCode: 404, errorCode: 'NOT_FOUND' });
      expect(res.json<{ message: string }>().message).toContain('npm run build');
    }
  });
});
