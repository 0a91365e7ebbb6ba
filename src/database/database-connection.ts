import type { DatabaseConfig } from '../config/configuration';
import { EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres';

export const EMBEDDED_DATABASE_NAME = 'purchase_saga';

/** The configured server, or an embedded one started on demand when none is configured. */
export async function resolveDatabase(
  config: DatabaseConfig,
  log: (line: string) => void = () => undefined,
): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (config.url !== undefined) return { url: config.url };
  const embedded = await startEmbeddedPostgres({
    dir: config.embedded.dir,
    port: config.embedded.port,
    database: EMBEDDED_DATABASE_NAME,
    log,
  });
  return { url: embedded.url, embedded };
}
