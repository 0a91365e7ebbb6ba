import { execFile } from 'node:child_process';
import { transformFile } from '@swc/core';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

export const SERVICE_BUILD_DIR = join(__dirname, '..', '..', '.data', 'test-dist');

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return sources(path);
      return Promise.resolve(
        entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [],
      );
    }),
  );
  return nested.flat();
}

/**
 * Transpiles the service (src/) for the tests that run it as real processes, the way Jest
 * transpiles it for the others: fast, and without type checking (tsc does that in lint/CI).
 */
export async function buildService(): Promise<string> {
  const root = join(__dirname, '..', '..', 'src');
  // A file renamed or deleted in src/ must not live on here (a stale migration would be run).
  await rm(SERVICE_BUILD_DIR, { recursive: true, force: true });
  const files = await sources(root);
  await Promise.all(
    files.map(async (file) => {
      const output = await transformFile(file, {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
        sourceMaps: false,
      });
      const target = join(SERVICE_BUILD_DIR, relative(root, file)).replace(/\.ts$/, '.js');
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, output.code);
    }),
  );
  return join(SERVICE_BUILD_DIR, 'main.js');
}

/** Builds the operator console (npm run build:console) into dist/console, which the service serves. */
export async function buildConsole(): Promise<void> {
  const root = join(__dirname, '..', '..');
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  await new Promise<void>((resolve, reject) => {
    execFile(
      process.execPath,
      [vite, 'build', '--config', 'console/vite.config.mts'],
      { cwd: root, env: { ...process.env, NODE_ENV: 'production' } },
      (error, stdout, stderr) =>
        error === null
          ? resolve()
          : reject(new Error(`The console build failed:\n${stdout}\n${stderr}`)),
    );
  });
}
