// `npm run migration:run | migration:revert | seed`: the same steps the service takes at boot.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { buildConfig } from '../config/configuration';
import { resolveDatabase } from '../database/database-connection';
import { dataSourceOptions } from '../database/data-source-options';
import { migrateWithLock } from '../database/migrate';
import { seedDemoData } from '../database/seed';

async function main(command: string | undefined): Promise<void> {
  if (command !== 'migrate' && command !== 'revert' && command !== 'seed') {
    throw new Error('usage: cli.js migrate|revert|seed');
  }
  const config = buildConfig(process.env);
  const database = await resolveDatabase(config.database);
  const dataSource = new DataSource(dataSourceOptions(database.url, config.database));
  await dataSource.initialize();
  try {
    if (command === 'revert') {
      await dataSource.undoLastMigration({ transaction: 'each' });
      console.log('Reverted the last migration');
      return;
    }
    const applied = await migrateWithLock(dataSource);
    console.log(`Migrations applied: ${applied.map((m) => m.name).join(', ') || 'none pending'}`);
    if (command === 'seed') {
      const seeded = await seedDemoData(dataSource);
      console.log(`Demo data: ${seeded.users} users and ${seeded.items} items added`);
    }
  } finally {
    await dataSource.destroy();
    await database.embedded?.stop();
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
