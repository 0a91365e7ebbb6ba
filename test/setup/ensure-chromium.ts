import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where the console's browser tests find Chromium (Debian's package). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The console's browser tests need Debian's chromium: on a machine without it, `npm test`
 * installs it when it can (root with apt-get), so that the README's test command does the whole
 * set-up. Elsewhere the browser test says what to install.
 */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const root = process.getuid?.() === 0;
  if (!root || spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status !== 0) {
    return;
  }
  process.stdout.write('Installing chromium for the console browser tests (apt-get)\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update'], ['install', '-y', 'chromium']]) {
    const run = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (run.status !== 0) {
      process.stdout.write(`apt-get ${args.join(' ')} failed; the browser tests will say so\n`);
      return;
    }
  }
}
