// `npm run purge [-- --dry-run] [--json]`: one run of the retention job against the database,
// with the policy of the environment (RETENTION_*, ARCHIVE_DIR). --dry-run prints what would go.
// Exit code 0 when done, 1 when another instance was running the job, 2 when it failed.
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import { errorMessage } from '../common/errors/error-message';
import { buildConfig, type AppConfig } from '../config/configuration';
import { dataSourceOptions } from '../database/data-source-options';
import { resolveDatabase } from '../database/database-connection';
import { parseArgs } from '../database/pg-tools';
import {
  JobsTransactionHost,
  ReportingTransactionHost,
  workPoolDatabase,
} from '../database/work-pools';
import { createVersionedCache } from '../modules/cache/create-versioned-cache';
import { RetentionRepository } from '../modules/retention/retention.repository';
import {
  dueSagas,
  RetentionService,
  type RetentionOutcome,
} from '../modules/retention/retention.service';
import { SagaViewCache } from '../modules/saga/read-model/saga-view.cache';

function describe(outcome: RetentionOutcome): string {
  switch (outcome.kind) {
    case 'busy':
      return 'Another instance is running the retention job; nothing done';
    case 'dry-run': {
      const { cutoffs, due } = outcome;
      const statuses = Object.entries(due.sagas)
        .map(([status, n]) => `${status} ${n}`)
        .join(', ');
      return [
        'Dry run: nothing removed.',
        `Sagas settled before ${cutoffs.sagas ?? '(kept for ever)'}: ${dueSagas(due)}` +
          (statuses === '' ? '' : ` (${statuses}; oldest ${due.oldestSaga?.toISOString()})`),
        `Published outbox events before ${cutoffs.outbox ?? '(kept for ever)'}: ${due.outboxEvents}`,
        `Idempotency keys before ${cutoffs.idempotency ?? '(kept for ever)'}: ${due.idempotencyKeys}`,
      ].join('\n');
    }
    case 'ran': {
      const { run } = outcome;
      const r = run.removed;
      return [
        `Removed ${r.sagas} saga(s) (${r.steps} step rows, ${r.logs} logs, ${r.notifications} notifications, ${r.outboxEvents} outbox events, ${r.integrationEvents} integration events)`,
        `Removed ${r.outboxEventsAlone} published outbox event(s) and ${r.integrationEventsAlone} published integration event(s) of sagas kept; freed ${r.idempotencyKeys} idempotency key(s)`,
        `${run.slices} slice(s) in ${run.durationMs} ms` +
          (run.archive === null
            ? ''
            : `; archived ${run.archive.bytes} bytes to ${run.archive.file}`),
        ...(run.error === undefined ? [] : [`Stopped on an error: ${run.error}`]),
      ].join('\n');
    }
  }
}

async function main(argv: string[]): Promise<number> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const args = parseArgs(argv, { flags: ['dry-run', 'json'], options: [] });
  if (args.positional.length > 0) throw new Error('usage: purge.js [--dry-run] [--json]');
  const config = buildConfig(process.env);
  Logger.overrideLogger(false);
  const database = await resolveDatabase(config.database);
  const resolved: AppConfig = { ...config, database: { ...config.database, url: database.url } };
  const dataSource = new DataSource(
    dataSourceOptions(database.url, { poolSize: 2, slowQueryMs: 600_000 }),
  );
  const cache = createVersionedCache(resolved);
  // The run goes on a jobs pool, as the service's scheduled one does (JOBS_STATEMENT_TIMEOUT_MS).
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
    await cache.probe();
    const settings = new ConfigService<AppConfig, true>(resolved);
    const retention = new RetentionService(
      new RetentionRepository(jobs, ReportingTransactionHost.of(dataSource), settings),
      jobs,
      new SagaViewCache(cache, settings),
      settings,
    );
    await retention.onModuleInit();
    const outcome = args.flags.has('dry-run')
      ? await retention.dryRun()
      : await retention.run(`purge@${hostname()}`);
    console.log(args.flags.has('json') ? JSON.stringify(outcome, null, 2) : describe(outcome));
    if (outcome.kind === 'busy') return 1;
    return outcome.kind === 'ran' && outcome.run.error !== undefined ? 2 : 0;
  } finally {
    await jobs.close();
    (cache as { onApplicationShutdown?: () => void }).onApplicationShutdown?.();
    if (dataSource.isInitialized) await dataSource.destroy();
    await database.embedded?.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`Purge failed: ${errorMessage(error)}`);
    process.exit(2);
  },
);
