// The DataSource the TypeORM CLI uses (migration:generate); the service builds its own at boot.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildConfig } from '../config/configuration';
import { dataSourceOptions } from './data-source-options';

const config = buildConfig(process.env);
if (config.database.url === undefined) {
  throw new Error('Set DATABASE_URL (or DB_HOST...) to the database the TypeORM CLI should use');
}

export default new DataSource(dataSourceOptions(config.database.url, config.database));
