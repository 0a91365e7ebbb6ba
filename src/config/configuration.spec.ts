import { buildConfig, ConfigError } from './configuration';

describe('buildConfig', () => {
  it('gives sane defaults on an empty environment (embedded database, demo data)', () => {
    const config = buildConfig({});
    expect(config.port).toBe(3000);
    expect(config.database.url).toBeUndefined();
    expect(config.seedDemoData).toBe(true);
    expect(config.saga.defaultPattern).toBe('orchestration');
    expect(config.adminTokenGenerated).toBe(true);
    expect(config.adminToken.length).toBeGreaterThanOrEqual(16);
  });

  it('never seeds an external database unless asked', () => {
    expect(buildConfig({ DATABASE_URL: 'postgres://u@h/db' }).seedDemoData).toBe(false);
    expect(
      buildConfig({ DATABASE_URL: 'postgres://u@h/db', SEED_DEMO_DATA: 'true' }).seedDemoData,
    ).toBe(true);
  });

  it('builds a URL from DB_* variables, escaping the password', () => {
    const config = buildConfig({
      DB_HOST: 'db',
      DB_PORT: '6543',
      DB_USERNAME: 'app',
      DB_PASSWORD: 'p@ss/word',
      DB_NAME: 'shop',
    });
    expect(config.database.url).toBe('postgres://app:p%40ss%2Fword@db:6543/shop');
  });

  it.each([
    ['PORT', 'abc', /PORT must be an integer/],
    ['PORT', '70000', /PORT must be between 0 and 65535/],
    ['SAGA_PATTERN_MODE', 'bogus', /SAGA_PATTERN_MODE must be one of orchestration, choreography/],
    [
      'NOTIFICATION_FAILURE_RATE',
      '2',
      /NOTIFICATION_FAILURE_RATE must be a number between 0 and 1/,
    ],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL must be a postgres/],
    ['ADMIN_TOKEN', 'short', /ADMIN_TOKEN must be at least 16 characters/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
  ])('refuses %s=%s naming the variable', (name, value, message) => {
    expect(() => buildConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => buildConfig({ [name]: value })).toThrow(message);
  });
});
