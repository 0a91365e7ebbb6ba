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

  it('caches with Redis when REDIS_URL is set, with bounded defaults', () => {
    const config = buildConfig({ REDIS_URL: 'redis://cache:6379' });
    expect(config.redisUrl).toBe('redis://cache:6379');
    expect(config.cache).toEqual({
      enabled: true,
      ttlMs: 3_600_000,
      inFlightTtlMs: 1000,
      timeoutMs: 100,
      keyPrefix: 'purchase-saga:',
      maxEntries: 10_000,
    });
    expect(() => buildConfig({ CACHE_TTL_MS: '2000', CACHE_INFLIGHT_TTL_MS: '3000' })).toThrow(
      /CACHE_INFLIGHT_TTL_MS must not be above CACHE_TTL_MS/,
    );
  });

  it('gives reports and jobs small pools of their own, with their statement timeouts', () => {
    const defaults = buildConfig({}).database;
    expect([defaults.poolSize, defaults.reporting, defaults.jobs]).toEqual([
      8,
      { poolSize: 2, statementTimeoutMs: 5000, queue: 8 },
      { poolSize: 2, statementTimeoutMs: 60_000 },
    ]);
    const set = buildConfig({
      REPORTING_POOL_SIZE: '3',
      REPORTING_QUEUE: '0',
      REPORTING_STATEMENT_TIMEOUT_MS: '2500',
      JOBS_POOL_SIZE: '1',
      JOBS_STATEMENT_TIMEOUT_MS: '120000',
    }).database;
    expect([set.reporting, set.jobs]).toEqual([
      { poolSize: 3, statementTimeoutMs: 2500, queue: 0 },
      { poolSize: 1, statementTimeoutMs: 120_000 },
    ]);
    expect(() => buildConfig({ REPORTING_POOL_SIZE: '0' })).toThrow(/REPORTING_POOL_SIZE/);
    expect(() => buildConfig({ JOBS_STATEMENT_TIMEOUT_MS: '5s' })).toThrow(
      /JOBS_STATEMENT_TIMEOUT_MS must be an integer/,
    );
  });

  it('names the instance INSTANCE_ID, else after its host and port', () => {
    expect(buildConfig({ INSTANCE_ID: 'checkout-1' }).instance).toEqual({
      id: 'checkout-1',
      explicit: true,
    });
    const { instance } = buildConfig({ PORT: '3100' });
    expect(instance.explicit).toBe(false);
    expect(instance.id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*:3100$/);
    expect(buildConfig({ PORT: '3100' }).instance).toEqual(instance);
  });

  it.each([
    ['INSTANCE_ID', 'two words', /INSTANCE_ID must be 1-90 letters/],
    ['INSTANCE_ID', 'x'.repeat(91), /INSTANCE_ID must be 1-90 letters/],
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
    ['REDIS_URL', 'localhost:6379', /REDIS_URL must be a redis/],
    ['CACHE_TTL_MS', '10', /CACHE_TTL_MS must be between/],
    ['CACHE_INFLIGHT_TTL_MS', '-1', /CACHE_INFLIGHT_TTL_MS must be between/],
    ['CACHE_TIMEOUT_MS', '0', /CACHE_TIMEOUT_MS must be between/],
    ['CACHE_KEY_PREFIX', 'has space', /CACHE_KEY_PREFIX must be/],
    ['CACHE_ENABLED', 'maybe', /CACHE_ENABLED must be true or false/],
    ['RETENTION_SAGAS', '30', /RETENTION_SAGAS must be a duration such as 30d/],
    ['RETENTION_SAGAS', '30 days', /RETENTION_SAGAS must be a duration/],
    ['RETENTION_SAGAS', '-1d', /RETENTION_SAGAS must be a duration/],
    ['RETENTION_SAGAS', '500ms', /RETENTION_SAGAS must be at least 1000 ms/],
    ['RETENTION_IDEMPOTENCY', '31d', /RETENTION_IDEMPOTENCY must not be longer than/],
    ['RETENTION_OUTBOX', '31d', /RETENTION_OUTBOX must not be longer than RETENTION_SAGAS/],
    ['RETENTION_OUTBOX', 'off', /RETENTION_OUTBOX must not be longer than RETENTION_SAGAS/],
    ['RETENTION_IDEMPOTENCY', '1y', /RETENTION_IDEMPOTENCY must be a duration/],
    ['RETENTION_SLICE', '0', /RETENTION_SLICE must be between 1 and 100000/],
    ['CONSOLE_READ_ONLY', 'perhaps', /CONSOLE_READ_ONLY must be true or false/],
    ['RATE_LIMIT_REPORTS', '10', /RATE_LIMIT_REPORTS must be N\/DURATION/],
    ['RATE_LIMIT_REPORTS', '10/second', /RATE_LIMIT_REPORTS must be N\/DURATION/],
    ['RATE_LIMIT_REPORTS', '0/1s', /RATE_LIMIT_REPORTS must be N\/DURATION/],
    ['RATE_LIMIT_REPORTS', '-1/1s', /RATE_LIMIT_REPORTS must be N\/DURATION/],
    ['RATE_LIMIT_REPORTS', '10/ 1s', /RATE_LIMIT_REPORTS must be N\/DURATION/],
    ['RATE_LIMIT_PUBLIC', '1s/200', /RATE_LIMIT_PUBLIC must be N\/DURATION/],
    ['RATE_LIMIT_PUBLIC', 'none', /RATE_LIMIT_PUBLIC must be N\/DURATION/],
    ['RATE_LIMIT_PUBLIC', '200000/1s', /RATE_LIMIT_PUBLIC must allow at most 100000 requests/],
    ['RATE_LIMIT_PUBLIC', '5/50ms', /RATE_LIMIT_PUBLIC must have a window between 100ms and 24h/],
    ['RATE_LIMIT_PUBLIC', '5/2d', /RATE_LIMIT_PUBLIC must have a window between 100ms and 24h/],
    ['RATE_LIMIT_HOLD', '1 second', /RATE_LIMIT_HOLD must be a duration/],
    ['RATE_LIMIT_HOLD', '11s', /RATE_LIMIT_HOLD must be at most 10s/],
    ['RATE_LIMIT_HOLD_MAX', '-1', /RATE_LIMIT_HOLD_MAX must be between 0 and 100000/],
    ['TRUST_PROXY', 'maybe', /TRUST_PROXY must be true, false, a number of proxy hops/],
    ['TRUST_PROXY', '10.0.0.0/33', /TRUST_PROXY must be true, false/],
    ['TRUST_PROXY', '10.0.0.1,not-an-ip', /TRUST_PROXY must be true, false/],
    ['TRUST_PROXY', '100', /TRUST_PROXY must be true, false/],
    ['ADMIN_TOKENS', 'no-colon-here-at-all', /ADMIN_TOKENS must be name:token pairs/],
    ['ADMIN_TOKENS', 'two words:0123456789abcdef', /ADMIN_TOKENS must be name:token pairs/],
    ['ADMIN_TOKENS', 'ops:short', /ADMIN_TOKENS token of "ops" must be at least 16/],
    ['ADMIN_TOKENS', 'admin:0123456789abcdef', /ADMIN_TOKENS names a token "admin" twice/],
    [
      'ADMIN_TOKENS',
      'a:0123456789abcdef,b:0123456789abcdef',
      /ADMIN_TOKENS token of "b" is already used/,
    ],
  ])('refuses %s=%s naming the variable', (name, value, message) => {
    expect(() => buildConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => buildConfig({ [name]: value })).toThrow(message);
  });

  it('names ADMIN_TOKEN "admin" and reads further named tokens from ADMIN_TOKENS', () => {
    const config = buildConfig({
      ADMIN_TOKEN: 'main-token-0123456789',
      ADMIN_TOKENS: 'alice:alice-token-0123456789, bob.ops:bob-token-0123456789',
    });
    expect(config.adminTokens).toEqual([
      { name: 'admin', token: 'main-token-0123456789' },
      { name: 'alice', token: 'alice-token-0123456789' },
      { name: 'bob.ops', token: 'bob-token-0123456789' },
    ]);
    const generated = buildConfig({});
    expect(generated.adminTokens).toEqual([{ name: 'admin', token: generated.adminToken }]);
  });

  it('leaves the console able to act unless CONSOLE_READ_ONLY is true', () => {
    expect(buildConfig({}).console).toEqual({ readOnly: false });
    expect(buildConfig({ CONSOLE_READ_ONLY: 'true' }).console).toEqual({ readOnly: true });
  });

  it('keeps settled sagas 30 days, published events and idempotency keys a day, by default', () => {
    expect(buildConfig({}).retention).toEqual({
      sagasMs: 30 * 86_400_000,
      outboxMs: 86_400_000,
      idempotencyMs: 86_400_000,
      cron: '30 * * * * *',
      sliceSize: 1000,
      archiveDir: undefined,
    });
    expect(
      buildConfig({
        RETENTION_SAGAS: '2m',
        RETENTION_OUTBOX: '30s',
        RETENTION_IDEMPOTENCY: '90000ms',
        RETENTION_CRON: 'OFF',
        ARCHIVE_DIR: '/var/archive',
      }).retention,
    ).toMatchObject({
      sagasMs: 120_000,
      outboxMs: 30_000,
      idempotencyMs: 90_000,
      cron: undefined,
      archiveDir: '/var/archive',
    });
    // A window shorter than a day bounds the others' defaults.
    expect(buildConfig({ RETENTION_SAGAS: '12h' }).retention).toMatchObject({
      sagasMs: 43_200_000,
      outboxMs: 43_200_000,
      idempotencyMs: 43_200_000,
    });
    // Everything kept for ever: nothing is removed.
    expect(
      buildConfig({ RETENTION_SAGAS: 'off', RETENTION_OUTBOX: 'off', RETENTION_IDEMPOTENCY: 'off' })
        .retention,
    ).toMatchObject({ sagasMs: undefined, outboxMs: undefined, idempotencyMs: undefined });
  });

  it('limits each client to 10 reports and 200 other public requests a second by default', () => {
    const config = buildConfig({});
    expect(config.rateLimits).toEqual({
      reports: { limit: 10, ttlMs: 1000 },
      public: { limit: 200, ttlMs: 1000 },
    });
    expect(config.trustProxy).toBe(false);
    expect(config.rateLimitHold).toEqual({ ms: 1000, max: 1000 });
  });

  it('holds refusals back as RATE_LIMIT_HOLD and RATE_LIMIT_HOLD_MAX say, or not at all', () => {
    expect(
      buildConfig({ RATE_LIMIT_HOLD: '250ms', RATE_LIMIT_HOLD_MAX: '10' }).rateLimitHold,
    ).toEqual({ ms: 250, max: 10 });
    expect(buildConfig({ RATE_LIMIT_HOLD: 'off' }).rateLimitHold.ms).toBeUndefined();
    expect(buildConfig({ RATE_LIMIT_HOLD: '10s' }).rateLimitHold.ms).toBe(10_000);
  });

  it('reads a budget as N/DURATION, or off', () => {
    expect(
      buildConfig({ RATE_LIMIT_REPORTS: '600/1m', RATE_LIMIT_PUBLIC: '50/500ms' }).rateLimits,
    ).toEqual({ reports: { limit: 600, ttlMs: 60_000 }, public: { limit: 50, ttlMs: 500 } });
    expect(buildConfig({ RATE_LIMIT_REPORTS: 'OFF', RATE_LIMIT_PUBLIC: 'off' }).rateLimits).toEqual(
      { reports: undefined, public: undefined },
    );
    expect(buildConfig({ RATE_LIMIT_PUBLIC: ' 1000/24H ' }).rateLimits.public).toEqual({
      limit: 1000,
      ttlMs: 86_400_000,
    });
  });

  it('trusts X-Forwarded-For as TRUST_PROXY says: every hop, a hop count, or given proxies', () => {
    expect(buildConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(buildConfig({ TRUST_PROXY: 'FALSE' }).trustProxy).toBe(false);
    expect(buildConfig({ TRUST_PROXY: '0' }).trustProxy).toBe(false);
    expect(buildConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(buildConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.7,fd00::/8' }).trustProxy).toBe(
      '10.0.0.0/8,192.168.1.7,fd00::/8',
    );
  });

  it('builds a URL from DB_HOST alone with the default user and database', () => {
    expect(buildConfig({ DB_HOST: 'db' }).database.url).toBe(
      'postgres://postgres@db:5432/purchase_saga',
    );
  });

  it('reads false, 0 and no as false', () => {
    for (const value of ['false', '0', 'NO']) {
      expect(buildConfig({ CACHE_ENABLED: value }).cache.enabled).toBe(false);
    }
    expect(buildConfig({ CACHE_ENABLED: 'yes' }).cache.enabled).toBe(true);
  });

  it('refuses a retry ceiling below the retry base', () => {
    expect(() => buildConfig({ STEP_RETRY_BASE_MS: '100', STEP_RETRY_MAX_MS: '50' })).toThrow(
      'STEP_RETRY_MAX_MS',
    );
    expect(buildConfig({ STEP_RETRY_BASE_MS: '100', STEP_RETRY_MAX_MS: '100' }).saga).toMatchObject(
      { stepRetryBaseMs: 100, stepRetryMaxMs: 100 },
    );
  });
  describe('webhooks', () => {
    it('are off by default, with the documented schedule and limits', () => {
      const { events } = buildConfig({});
      expect(events.webhooks).toEqual({
        enabled: false,
        allowPrivateUrls: false,
        timeoutMs: 10_000,
        retryScheduleMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000],
        disableAfterMs: 5 * 86_400_000,
        concurrency: 32,
        endpointConcurrency: 16,
        pollMs: 1000,
      });
    });

    it('write integration events once enabled, without NATS', () => {
      const { events } = buildConfig({
        WEBHOOKS_ENABLED: 'true',
        WEBHOOK_RETRY_SCHEDULE: '100ms, 1s',
        WEBHOOK_DISABLE_AFTER: 'off',
      });
      expect(events.enabled).toBe(true);
      expect(events.nats).toBeUndefined();
      expect(events.webhooks).toMatchObject({
        enabled: true,
        retryScheduleMs: [100, 1000],
        disableAfterMs: undefined,
      });
    });
  });

  describe('integration events', () => {
    it('writes none and relays none with NATS_URL unset', () => {
      const { events } = buildConfig({});
      expect(events.enabled).toBe(false);
      expect(events.nats).toBeUndefined();
    });

    it('relays to NATS with documented defaults once NATS_URL is set', () => {
      const { events } = buildConfig({ NATS_URL: 'nats://a:4222, b:4223' });
      expect(events).toMatchObject({
        enabled: true,
        nats: {
          servers: ['nats://a:4222', 'b:4223'],
          stream: 'SAGA_EVENTS',
          maxAgeMs: 7 * 86_400_000,
          duplicateWindowMs: 120_000,
          publishTimeoutMs: 5000,
        },
        relayBatch: 500,
        relayPollMs: 500,
        relayLeaseMs: 15_000,
      });
      expect(
        buildConfig({ NATS_URL: 'n:1', NATS_STREAM_MAX_AGE: 'off' }).events.nats?.maxAgeMs,
      ).toBe(0);
    });

    it.each([
      [{ NATS_URL: 'http://broker:4222' }, 'NATS_URL'],
      [{ NATS_URL: 'nats://' }, 'NATS_URL'],
      [{ NATS_URL: 'nats://user:secret@[bad' }, 'NATS_URL'],
      [{ NATS_STREAM: 'saga.events' }, 'NATS_STREAM'],
      [{ NATS_DUPLICATE_WINDOW: 'off' }, 'NATS_DUPLICATE_WINDOW'],
      [{ NATS_STREAM_MAX_AGE: '1m', NATS_DUPLICATE_WINDOW: '2m' }, 'NATS_DUPLICATE_WINDOW'],
      [{ WEBHOOK_RETRY_SCHEDULE: '5s,soon' }, 'WEBHOOK_RETRY_SCHEDULE'],
      [{ WEBHOOK_RETRY_SCHEDULE: '5s,1ms' }, 'WEBHOOK_RETRY_SCHEDULE'],
      [{ WEBHOOKS_ENABLED: 'maybe' }, 'WEBHOOKS_ENABLED'],
    ])('refuses %j, naming %s and never the URL', (env, variable) => {
      let error: unknown;
      try {
        buildConfig(env);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(String(error)).toContain(variable);
      expect(String(error)).not.toContain('secret');
    });
  });
});
