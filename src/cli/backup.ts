// `npm run db:backup [-- --out FILE]`: a pg_dump (custom format) of the service's database.
import 'reflect-metadata';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { errorMessage } from '../common/errors/error-message';
import { buildConfig } from '../config/configuration';
import { serverMajorVersion } from '../database/database-admin';
import { resolveDatabase } from '../database/database-connection';
import {
  assertToolCanServe,
  connectionOf,
  describeConnection,
  fileTimestamp,
  findPgTool,
  formatBytes,
  formatDuration,
  parseArgs,
  pgEnvironment,
  runTool,
  toolMajorVersion,
} from '../database/pg-tools';

const DEFAULT_DIR = 'backups';

async function main(argv: string[]): Promise<void> {
  const started = Date.now();
  if (existsSync('.env')) process.loadEnvFile('.env');
  const args = parseArgs(argv, { flags: [], options: ['out'] });
  if (args.positional.length > 0) throw new Error('usage: backup.js [--out FILE]');
  const config = buildConfig(process.env);
  const pgDump = findPgTool('pg_dump');
  const database = await resolveDatabase(config.database);
  try {
    const connection = connectionOf(database.url);
    const toolMajor = await toolMajorVersion(pgDump);
    if (toolMajor !== undefined) {
      assertToolCanServe('pg_dump', toolMajor, await serverMajorVersion(database.url));
    }
    const file = resolve(
      args.options.get('out') ??
        join(DEFAULT_DIR, `${connection.database}-${fileTimestamp(new Date())}.dump`),
    );
    mkdirSync(dirname(file), { recursive: true });
    // Written aside and renamed once complete: an interrupted backup never looks like a good one.
    const partial = `${file}.partial`;
    // pg_dump reads everything in one transaction snapshot: the dump is consistent even while
    // purchases run.
    const result = await runTool(
      pgDump,
      ['--format=custom', '--no-password', `--file=${partial}`],
      pgEnvironment(connection),
    );
    if (result.code !== 0) {
      rmSync(partial, { force: true });
      throw new Error(`pg_dump failed (exit ${result.code}): ${result.stderr.trim()}`);
    }
    renameSync(partial, file);
    console.log(
      `Backed up database ${describeConnection(connection)} to ${file} ` +
        `(${formatBytes(statSync(file).size)}) in ${formatDuration(Date.now() - started)}`,
    );
  } finally {
    await database.embedded?.stop();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`Backup failed: ${errorMessage(error)}`);
  process.exit(1);
});
