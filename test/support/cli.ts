import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command-line entry point of the transpiled service (cli/verify.js...). */
export function cliPath(relative: string): string {
  const main = process.env.TEST_SERVICE_MAIN;
  if (main === undefined)
    throw new Error('TEST_SERVICE_MAIN is not set: run the tests through jest');
  return join(dirname(main), relative);
}

/** Runs one of the service's commands as a real process, as `npm run ...` would. */
export function runCli(
  relative: string,
  args: string[],
  env: Record<string, string>,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath(relative), ...args], {
      // A scratch working directory, so no developer .env is read.
      cwd: mkdtempSync(join(tmpdir(), 'saga-cli-')),
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
