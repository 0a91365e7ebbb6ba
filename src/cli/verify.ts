// `npm run verify [-- --json] [--incremental]`: the integrity reconciliation, run once against the
// database: full (every user, item and saga, the rollups recounted) unless --incremental.
// Exit code 0 when clean, 1 when violations were found, 2 when the check could not run.
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { existsSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { errorMessage } from '../common/errors/error-message';
import { buildConfig, type AppConfig } from '../config/configuration';
import { dataSourceOptions } from '../database/data-source-options';
import { resolveDatabase } from '../database/database-connection';
import { connectionOf, describeConnection, parseArgs } from '../database/pg-tools';
import { JobsTransactionHost, workPoolDatabase } from '../database/work-pools';
import { formatIntegrityReport } from '../modules/integrity/integrity-report';
import { IntegrityRepository } from '../modules/integrity/integrity.repository';
import { IntegrityService } from '../modules/integrity/integrity.service';

async function main(argv: string[]): Promise<number> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const args = parseArgs(argv, { flags: ['json', 'incremental'], options: [] });
  if (args.positional.length > 0) throw new Error('usage: verify.js [--json] [--incremental]');
  const config = buildConfig(process.env);
  // The report is the output; the service's own log line would repeat it.
  Logger.overrideLogger(false);
  const database = await resolveDatabase(config.database);
  const dataSource = new DataSource(
    // The report gives the time taken; slow-query lines would only interleave with it.
    dataSourceOptions(database.url, { poolSize: 1, slowQueryMs: 600_000 }),
  );
  // The check runs on a jobs pool, as the service's scheduled one does (JOBS_STATEMENT_TIMEOUT_MS).
  const jobs = new JobsTransactionHost(
    workPoolDatabase(database.url, 'jobs', config.database.jobs, {
      logger: dataSource.logger,
      slowMs: 0,
    }),
  );
  try {
    await dataSource.initialize();
    if (await dataSource.showMigrations()) {
      throw new Error('The database has migrations pending: run `npm run migration:run` first');
    }
    const integrity = new IntegrityService(
      new IntegrityRepository(jobs),
      new ConfigService<AppConfig, true>(config),
    );
    const report = await integrity.verify(args.flags.has('incremental') ? 'incremental' : 'full');
    console.log(
      args.flags.has('json')
        ? JSON.stringify(report, null, 2)
        : formatIntegrityReport(report, describeConnection(connectionOf(database.url))),
    );
    return report.clean ? 0 : 1;
  } finally {
    await jobs.close();
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.embedded?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`Verify failed: ${errorMessage(error)}`);
    process.exit(2);
  },
);
