// `npm run db:restore -- FILE [--force]`: restores a db:backup file into an empty database.
import 'reflect-metadata';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { errorMessage } from '../common/errors/error-message';
import { buildConfig } from '../config/configuration';
import { dropPublicSchema, ensureDatabase, listTables } from '../database/database-admin';
import { resolveDatabase } from '../database/database-connection';
import {
  connectionOf,
  describeConnection,
  findPgTool,
  formatDuration,
  parseArgs,
  pgEnvironment,
  runTool,
} from '../database/pg-tools';

/** pg_dump's custom-format archives start with these bytes. */
function isCustomArchive(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(5);
    readSync(fd, head, 0, 5, 0);
    return head.toString('latin1') === 'PGDMP';
  } finally {
    closeSync(fd);
  }
}

async function main(argv: string[]): Promise<void> {
  const started = Date.now();
  if (existsSync('.env')) process.loadEnvFile('.env');
  const args = parseArgs(argv, { flags: ['force'], options: [] });
  if (args.positional.length !== 1) throw new Error('usage: restore.js FILE [--force]');
  const file = resolve(args.positional[0]);
  if (!existsSync(file)) throw new Error(`No such file: ${file}`);
  if (!isCustomArchive(file)) {
    throw new Error(`${file} is not a pg_dump custom-format archive (made by npm run db:backup)`);
  }
  const config = buildConfig(process.env);
  const pgRestore = findPgTool('pg_restore');
  const database = await resolveDatabase(config.database);
  try {
    const connection = connectionOf(database.url);
    const target = describeConnection(connection);
    const created = await ensureDatabase(database.url, connection.database);
    const tables = await listTables(database.url);
    let cleaned = false;
    if (tables.length > 0) {
      if (!args.flags.has('force')) {
        throw new Error(
          `Database ${target} is not empty (${tables.length} tables: ${tables.slice(0, 5).join(', ')}` +
            `${tables.length > 5 ? ', ...' : ''}). Restore into an empty database, or pass --force ` +
            'to drop everything in its public schema first (stop the service before).',
        );
      }
      await dropPublicSchema(database.url);
      cleaned = true;
    }
    // One transaction: a restore that fails leaves the database as empty as it found it.
    const result = await runTool(
      pgRestore,
      [
        '--no-password',
        '--single-transaction',
        '--exit-on-error',
        '--no-owner',
        '--no-privileges',
        `--dbname=${connection.database}`,
        file,
      ],
      pgEnvironment(connection),
    );
    if (result.code !== 0) {
      throw new Error(`pg_restore failed (exit ${result.code}): ${result.stderr.trim()}`);
    }
    const into = created ? 'new database' : cleaned ? 'cleaned database' : 'empty database';
    console.log(
      `Restored ${file} into the ${into} ${target} in ${formatDuration(Date.now() - started)}. ` +
        'Check it with `npm run verify`; the service applies any newer migrations when it starts.',
    );
  } finally {
    await database.embedded?.stop();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`Restore failed: ${errorMessage(error)}`);
  process.exit(1);
});
