import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/configuration';
import { dataSourceOptions } from './data-source-options';
import { migrateWithLock } from './migrate';
import { seedDemoData } from './seed';
import { TransactionHost } from './transaction-host';

export const DATABASE_URL = 'DATABASE_URL';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AppConfig, true>) => {
        const database = config.get('database', { infer: true });
        if (database.url === undefined) throw new Error('The database URL was not resolved');
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
      provide: 'DEMO_DATA_SEEDER',
      inject: [DataSource, ConfigService],
      useFactory: async (dataSource: DataSource, config: ConfigService<AppConfig, true>) => {
        if (config.get('seedDemoData', { infer: true })) await seedDemoData(dataSource);
        return true;
      },
    },
  ],
  exports: [TransactionHost],
})
export class DatabaseModule {}
