import { Client } from 'pg';

/** Where the test databases live, shared by the global setup and every test file. */
/** The migrated template of this run (unique, so parallel runs on one server never collide). */
export function templateDatabase(): string {
  const name = process.env.TEST_TEMPLATE_DATABASE;
  if (name === undefined)
    throw new Error('TEST_TEMPLATE_DATABASE is not set: run the tests through jest');
  return name;
}
export const EMBEDDED_TEST_PORT = 54339;
export const EMBEDDED_TEST_DIR = '.data/test-postgres';

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;
  return parsed.toString();
}

/** Tests drop and create databases: never let them near one whose name does not say test. */
export function assertTestDatabase(url: string): void {
  const name = databaseName(url);
  if (!/test/i.test(name)) {
    throw new Error(
      `Refusing to run tests against database "${name}": its name must contain "test"`,
    );
  }
}

export async function withAdminClient<T>(
  adminUrl: string,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
