import { Global, Module, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig, DatabaseConfig } from '../config/configuration';
import { dataSourceOptions } from './data-source-options';
import { migrateWithLock } from './migrate';
import { seedDemoData } from './seed';
import { TransactionHost } from './transaction-host';
import {
  JobsTransactionHost,
  ReportingTransactionHost,
  workPoolDatabase,
  type WorkClass,
} from './work-pools';

export const DATABASE_URL = 'DATABASE_URL';

function databaseConfig(config: ConfigService<AppConfig, true>): DatabaseConfig & { url: string } {
  const database = config.get('database', { infer: true });
  if (database.url === undefined) throw new Error('The database URL was not resolved');
  return { ...database, url: database.url };
}

/** The pool of a class of work, logging its statements as TypeORM's are. */
function workPool(config: ConfigService<AppConfig, true>, dataSource: DataSource, work: WorkClass) {
  const database = databaseConfig(config);
  return workPoolDatabase(database.url, work, database[work], {
    logger: dataSource.logger,
    slowMs: database.slowQueryMs,
  });
}

/**
 * The database, in three pools (see work-pools.ts): TypeORM's for the purchase path
 * (TransactionHost), and one each for reports (ReportingTransactionHost) and jobs
 * (JobsTransactionHost). The last two depend on the data source, so they open once it is migrated.
 */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const database = databaseConfig(config);
        return dataSourceOptions(database.url, database);
      },
      // Migrate (under an advisory lock) and seed before anything else uses the database.
      dataSourceFactory: async (options) => {
        if (options === undefined) throw new Error('No data source options');
        const dataSource = await new DataSource(options).initialize();
        await migrateWithLock(dataSource);
        return dataSource;
      },
    }),
  ],
  providers: [
    {
      provide: TransactionHost,
      inject: [DataSource],
      useFactory: (dataSource: DataSource) => TransactionHost.of(dataSource),
    },
    {
      provide: ReportingTransactionHost,
      inject: [ConfigService, DataSource],
      useFactory: (config: ConfigService<AppConfig, true>, dataSource: DataSource) =>
        new ReportingTransactionHost(
          workPool(config, dataSource, 'reporting'),
          databaseConfig(config).reporting,
        ),
    },
    {
      provide: JobsTransactionHost,
      inject: [ConfigService, DataSource],
      useFactory: (config: ConfigService<AppConfig, true>, dataSource: DataSource) =>
        new JobsTransactionHost(workPool(config, dataSource, 'jobs')),
    },
    {
      provide: 'DEMO_DATA_SEEDER',
      inject: [DataSource, ConfigService],
      useFactory: async (dataSource: DataSource, config: ConfigService<AppConfig, true>) => {
        if (config.get('seedDemoData', { infer: true })) await seedDemoData(dataSource);
        return true;
      },
    },
  ],
  exports: [TransactionHost, ReportingTransactionHost, JobsTransactionHost],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(
    private readonly reporting: ReportingTransactionHost,
    private readonly jobs: JobsTransactionHost,
  ) {}

  /** With TypeORM's pool: after the HTTP server closed and the jobs stopped. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.reporting.close(), this.jobs.close()]);
  }
}
