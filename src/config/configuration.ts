import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { identifierRule, isIdentifier } from '../common/identifiers';

export type SagaPattern = 'orchestration' | 'choreography';
export const SAGA_PATTERNS: readonly SagaPattern[] = ['orchestration', 'choreography'];
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

export interface DatabaseConfig {
  /** Connection URL of an external server; undefined means the embedded PostgreSQL. */
  url?: string;
  /** Connections of the purchase path (purchases, saga reads, the saga's own upkeep). */
  poolSize: number;
  slowQueryMs: number;
  embedded: { dir: string; port: number };
  /** Reports and listings, on a pool of their own behind a bounded queue. */
  reporting: ReportingPoolConfig;
  /** Integrity, retention and the DB monitor, on a pool of their own. */
  jobs: WorkPoolConfig;
}

export interface WorkPoolConfig {
  poolSize: number;
  statementTimeoutMs: number;
}

export interface ReportingPoolConfig extends WorkPoolConfig {
  /** Reporting statements waiting for a connection; beyond them, requests are refused (429). */
  queue: number;
}

export interface SagaConfig {
  defaultPattern: SagaPattern;
  purchaseWaitMs: number;
  timeoutMs: number;
  stepMaxAttempts: number;
  stepRetryBaseMs: number;
  stepRetryMaxMs: number;
  /** How long a driver owns a saga after each transition before recovery may take it over. */
  leaseMs: number;
  /** How often sagas whose lease expired are looked for. */
  recoveryPollMs: number;
  /** How long a dispatcher owns the outbox events it publishes before others may. */
  outboxLeaseMs: number;
  /** How often left-behind outbox events are looked for. */
  outboxPollMs: number;
  /** How often the open sagas per definition version are counted again (/health, the log). */
  versionsCheckMs: number;
  faults: string;
}

export interface CacheConfig {
  /** false: every read goes to the database. */
  enabled: boolean;
  /** Lifetime of a settled saga's entry, and of the version floor an invalidation leaves. */
  ttlMs: number;
  /** Lifetime of a saga still in flight (0: not cached). */
  inFlightTtlMs: number;
  /** Redis command timeout; a slower Redis counts as down. */
  timeoutMs: number;
  keyPrefix: string;
  /** Entries of the in-process cache (used when REDIS_URL is unset). */
  maxEntries: number;
}

/** The budgets a client's requests count against: RATE_LIMIT_REPORTS, RATE_LIMIT_PUBLIC. */
export type RateLimitClass = 'reports' | 'public';
export const RATE_LIMIT_CLASSES: readonly RateLimitClass[] = ['reports', 'public'];

/** At most `limit` requests per client in a window of `ttlMs`. */
export interface RateLimit {
  limit: number;
  ttlMs: number;
}

/**
 * A refused request's answer is held back up to `ms` (at most until its block ends), at most
 * `max` at once; past that, or with `ms` undefined, it is answered at once.
 */
export interface RateLimitHold {
  ms: number | undefined;
  max: number;
}

/**
 * Fastify's `trustProxy`: false (the client is the connection's address), true (the left-most
 * X-Forwarded-For address), a number of proxy hops, or the proxies' addresses and CIDRs.
 */
export type TrustProxy = boolean | number | string;

export interface IntegrityConfig {
  /** Schedule of the incremental reconciliation (cron with seconds); undefined: not scheduled. */
  cron?: string;
  /** Schedule of the full reconciliation (off-peak); undefined: only on demand. */
  fullCron?: string;
  /** Ledger changes an incremental run checks per snapshot. */
  sliceSize: number;
  /** An outbox event still pending after this long is reported. */
  outboxMaxPendingMs: number;
  /** Violations listed per check (all are counted). */
  maxListed: number;
}

/** How long data is kept (see retentionConfig); undefined: kept for ever. */
export interface RetentionConfig {
  /** Settled sagas, with their steps, log, notifications and outbox events. */
  sagasMs?: number;
  /** Delivered outbox events of settled sagas. */
  outboxMs?: number;
  /** How long an Idempotency-Key replays its purchase (then it may start a new one). */
  idempotencyMs?: number;
  /** Schedule of the retention job (cron with seconds); undefined: not scheduled. */
  cron?: string;
  /** Sagas (or outbox events, or keys) removed per transaction. */
  sliceSize: number;
  /** Where settled sagas are written before removal (gzip JSON Lines); undefined: not kept. */
  archiveDir?: string;
}

/** The NATS JetStream sink of the integration events (NATS_URL). */
export interface NatsSinkConfig {
  /** One server URL or a comma list; may hold credentials: never logged. */
  servers: string[];
  stream: string;
  /** How long the stream keeps a message. */
  maxAgeMs: number;
  /** The stream's de-duplication window on Nats-Msg-Id. */
  duplicateWindowMs: number;
  /** How long a publish waits for its acknowledgement. */
  publishTimeoutMs: number;
}

/** Webhook endpoints registered through /admin/webhooks (see webhooksConfig). */
export interface WebhooksConfig {
  /** WEBHOOKS_ENABLED: integration events are written and fanned out to the endpoints. */
  enabled: boolean;
  /** Loopback, private and link-local targets allowed (local receivers, tests). */
  allowPrivateUrls: boolean;
  /** How long one delivery attempt may take, answer included. */
  timeoutMs: number;
  /** The waits before each retry; once all are spent the delivery is failed. */
  retryScheduleMs: number[];
  /** An endpoint failing without a success for this long is disabled; undefined: never. */
  disableAfterMs?: number;
  /** Deliveries one instance has in flight at most, over all endpoints. */
  concurrency: number;
  /** Deliveries in flight at most per endpoint, over all instances. */
  endpointConcurrency: number;
  /** How often due deliveries and new events are looked for (also woken as sagas settle). */
  pollMs: number;
}

/** The public integration events and their relay (see eventsConfig). */
export interface EventsConfig {
  /**
   * Whether integration events are written at all: true as soon as one sink is configured. The
   * one place that decides it, so that a further sink (webhooks) only adds itself here.
   */
  enabled: boolean;
  nats?: NatsSinkConfig;
  webhooks: WebhooksConfig;
  /** Events one relay claim takes (published together, acknowledged together). */
  relayBatch: number;
  /** How often the relay looks for events (it is also woken as sagas settle here). */
  relayPollMs: number;
  /** How long an instance owns the events it claimed before another may take them. */
  relayLeaseMs: number;
}

/** Who this process is in the leases it takes (see instanceConfig). */
export interface InstanceConfig {
  id: string;
  /** Set by INSTANCE_ID: another live process holding it stops the start. */
  explicit: boolean;
}

export interface AppConfig {
  nodeEnv: string;
  instance: InstanceConfig;
  port: number;
  host: string;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  trustProxy: TrustProxy;
  /** Each class's budget per client; undefined: that class is not limited. */
  rateLimits: Record<RateLimitClass, RateLimit | undefined>;
  /** How refused requests are answered (RATE_LIMIT_HOLD, RATE_LIMIT_HOLD_MAX). */
  rateLimitHold: RateLimitHold;
  database: DatabaseConfig;
  redisUrl?: string;
  cache: CacheConfig;
  adminToken: string;
  /** True when ADMIN_TOKEN was unset and a random token was generated for this process. */
  adminTokenGenerated: boolean;
  /** Every admin token with the name the audit log records for it (ADMIN_TOKEN is "admin"). */
  adminTokens: NamedToken[];
  console: ConsoleConfig;
  seedDemoData: boolean;
  saga: SagaConfig;
  /** NOTIFICATION_FAILURE_RATE: a simulated fault of the notification step (0: none). */
  notificationFailureRate: number;
  monitorCron: string;
  integrity: IntegrityConfig;
  retention: RetentionConfig;
  events: EventsConfig;
  /** How often the saga rollups fold the changes recorded since their last fold. */
  rollupMs: number;
}

/** An admin token and who holds it; only the name is ever logged or stored. */
export interface NamedToken {
  name: string;
  token: string;
}

export interface ConsoleConfig {
  /** The operator console shows sagas but offers no action, and the server refuses them. */
  readOnly: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `must be an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function ratio(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigError(name, `must be a number between 0 and 1, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;

/**
 * ADMIN_TOKENS, `name:token,name:token`: more admin tokens, each named for the audit log. The
 * names are distinct, "admin" is ADMIN_TOKEN's, and every token is 16+ characters and unique.
 */
function namedTokens(env: Env, adminToken: string): NamedToken[] {
  const tokens: NamedToken[] = [{ name: 'admin', token: adminToken }];
  const raw = str(env, 'ADMIN_TOKENS');
  if (raw === undefined) return tokens;
  for (const entry of raw.split(',')) {
    const at = entry.indexOf(':');
    const name = entry.slice(0, Math.max(at, 0)).trim();
    const token = entry.slice(at + 1).trim();
    if (at < 0 || !TOKEN_NAME.test(name)) {
      throw new ConfigError(
        'ADMIN_TOKENS',
        'must be name:token pairs separated by commas, names of 1-50 letters, digits, ".", "_" or "-"',
      );
    }
    if (token.length < 16) {
      throw new ConfigError('ADMIN_TOKENS', `token of "${name}" must be at least 16 characters`);
    }
    if (tokens.some((t) => t.name === name)) {
      throw new ConfigError('ADMIN_TOKENS', `names a token "${name}" twice (or "admin")`);
    }
    if (tokens.some((t) => t.token === token)) {
      throw new ConfigError('ADMIN_TOKENS', `token of "${name}" is already used by another name`);
    }
    tokens.push({ name, token });
  }
  return tokens;
}

function databaseUrl(env: Env): string | undefined {
  const url = str(env, 'DATABASE_URL');
  if (url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
    }
    return url;
  }
  const host = str(env, 'DB_HOST');
  if (host === undefined) return undefined;
  const port = int(env, 'DB_PORT', 5432, 1, 65535);
  const user = encodeURIComponent(str(env, 'DB_USERNAME') ?? 'postgres');
  const password = str(env, 'DB_PASSWORD');
  const name = encodeURIComponent(str(env, 'DB_NAME') ?? 'purchase_saga');
  const auth = password === undefined ? user : `${user}:${encodeURIComponent(password)}`;
  return `postgres://${auth}@${host}:${port}/${name}`;
}

function redisUrl(env: Env): string | undefined {
  const url = str(env, 'REDIS_URL');
  if (url !== undefined && !/^rediss?:\/\//.test(url)) {
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
  }
  return url;
}

function cacheConfig(env: Env): CacheConfig {
  const ttlMs = int(env, 'CACHE_TTL_MS', 3_600_000, 1000, 7 * 86_400_000);
  const inFlightTtlMs = int(env, 'CACHE_INFLIGHT_TTL_MS', 1000, 0, 60_000);
  if (inFlightTtlMs > ttlMs) {
    throw new ConfigError('CACHE_INFLIGHT_TTL_MS', 'must not be above CACHE_TTL_MS');
  }
  const keyPrefix = str(env, 'CACHE_KEY_PREFIX') ?? 'purchase-saga:';
  if (!/^[\w:.-]{1,64}$/.test(keyPrefix)) {
    throw new ConfigError('CACHE_KEY_PREFIX', 'must be 1-64 letters, digits, or _ : . -');
  }
  return {
    enabled: bool(env, 'CACHE_ENABLED', true),
    ttlMs,
    inFlightTtlMs,
    timeoutMs: int(env, 'CACHE_TIMEOUT_MS', 100, 5, 10_000),
    keyPrefix,
    maxEntries: int(env, 'CACHE_MAX_ENTRIES', 10_000, 10, 10_000_000),
  };
}

function integrityConfig(env: Env): IntegrityConfig {
  // The expression itself is checked when the job is scheduled, by the cron parser.
  const cron = str(env, 'VERIFY_CRON') ?? '15 * * * * *';
  const fullCron = str(env, 'VERIFY_FULL_CRON') ?? '0 30 3 * * *';
  return {
    cron: cron.toLowerCase() === 'off' ? undefined : cron,
    fullCron: fullCron.toLowerCase() === 'off' ? undefined : fullCron,
    sliceSize: int(env, 'VERIFY_SLICE', 100_000, 1, 1_000_000),
    outboxMaxPendingMs: int(env, 'OUTBOX_MAX_PENDING_MS', 60_000, 1000, 86_400_000),
    maxListed: int(env, 'VERIFY_MAX_LISTED', 100, 1, 10_000),
  };
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds of a duration such as `30d`, `24h`, `90s`, `500ms`; undefined if it is none. */
function durationMs(raw: string): number | undefined {
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(raw);
  return match === null ? undefined : Number(match[1]) * DURATION_UNITS[match[2]];
}

/** A duration such as `30d`, `24h`, `90s`, `500ms`, or `off` (undefined). */
function duration(env: Env, name: string, fallback: string, minMs: number): number | undefined {
  const raw = (str(env, name) ?? fallback).toLowerCase();
  if (raw === 'off') return undefined;
  const ms = durationMs(raw);
  if (ms === undefined) {
    throw new ConfigError(
      name,
      `must be a duration such as 30d, 24h, 15m, 90s or 500ms, or "off", got "${env[name]}"`,
    );
  }
  if (ms < minMs) throw new ConfigError(name, `must be at least ${minMs} ms, got "${raw}"`);
  return ms;
}

/** A budget `N/DURATION` (`10/1s`, `600/1m`: N requests per window), or `off` (undefined). */
function rateLimit(env: Env, name: string, fallback: string): RateLimit | undefined {
  const raw = (str(env, name) ?? fallback).toLowerCase();
  if (raw === 'off') return undefined;
  const match = /^(\d{1,6})\/(.+)$/.exec(raw);
  const limit = Number(match?.[1] ?? 0);
  const ttlMs = match === null ? undefined : durationMs(match[2]);
  if (limit === 0 || ttlMs === undefined) {
    throw new ConfigError(
      name,
      `must be N/DURATION, N requests per client in a window such as 500ms, 1s or 1m (10/1s), or "off", got "${env[name]}"`,
    );
  }
  if (limit > 100_000) {
    throw new ConfigError(name, `must allow at most 100000 requests, got ${limit}`);
  }
  if (ttlMs < 100 || ttlMs > 86_400_000) {
    throw new ConfigError(name, `must have a window between 100ms and 24h, got "${raw}"`);
  }
  return { limit, ttlMs };
}

function rateLimitHold(env: Env): RateLimitHold {
  const ms = duration(env, 'RATE_LIMIT_HOLD', '1s', 1);
  if (ms !== undefined && ms > 10_000) {
    throw new ConfigError('RATE_LIMIT_HOLD', `must be at most 10s, got "${env.RATE_LIMIT_HOLD}"`);
  }
  return { ms, max: int(env, 'RATE_LIMIT_HOLD_MAX', 1000, 0, 100_000) };
}

/** An IPv4 or IPv6 address, or a CIDR range of one. */
function isAddressOrRange(value: string): boolean {
  const [address, bits, extra] = value.split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return false;
  return (
    bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
  );
}

/** TRUST_PROXY: `false`, `true`, a hop count, or a comma list of proxy addresses or CIDRs. */
function trustProxy(env: Env): TrustProxy {
  const raw = str(env, 'TRUST_PROXY')?.toLowerCase();
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d{1,2}$/.test(raw)) return Number(raw) === 0 ? false : Number(raw);
  const addresses = raw.split(',').map((address) => address.trim());
  if (addresses.every(isAddressOrRange)) return addresses.join(',');
  throw new ConfigError(
    'TRUST_PROXY',
    `must be true, false, a number of proxy hops, or the proxies' addresses or CIDRs separated by commas, got "${env.TRUST_PROXY}"`,
  );
}

/** Data kept past what the service needs is removed on a schedule (see RetentionConfig). */
function retentionConfig(env: Env): RetentionConfig {
  const sagasMs = duration(env, 'RETENTION_SAGAS', '30d', 1000);
  // A day, or the sagas' own window when that is shorter.
  const day = sagasMs !== undefined && sagasMs < 86_400_000 ? `${sagasMs}ms` : '24h';
  const outboxMs = duration(env, 'RETENTION_OUTBOX', day, 1000);
  const idempotencyMs = duration(env, 'RETENTION_IDEMPOTENCY', day, 1000);
  // A saga goes with its events and its key: a longer window for them could not be kept.
  for (const [name, ms] of [
    ['RETENTION_OUTBOX', outboxMs],
    ['RETENTION_IDEMPOTENCY', idempotencyMs],
  ] as const) {
    if (sagasMs !== undefined && (ms === undefined || ms > sagasMs)) {
      throw new ConfigError(
        name,
        'must not be longer than RETENTION_SAGAS (a saga takes it along)',
      );
    }
  }
  const cron = str(env, 'RETENTION_CRON') ?? '30 * * * * *';
  const archiveDir = str(env, 'ARCHIVE_DIR');
  return {
    sagasMs,
    outboxMs,
    idempotencyMs,
    cron: cron.toLowerCase() === 'off' ? undefined : cron,
    sliceSize: int(env, 'RETENTION_SLICE', 1000, 1, 100_000),
    archiveDir,
  };
}

/** NATS_URL: `nats://host:port` (or tls://, or host:port), comma-separated for a cluster. */
function natsServers(env: Env): string[] | undefined {
  const raw = str(env, 'NATS_URL');
  if (raw === undefined) return undefined;
  const servers = raw.split(',').map((server) => server.trim());
  for (const server of servers) {
    let valid: boolean;
    try {
      const url = new URL(server.includes('://') ? server : `nats://${server}`);
      valid = ['nats:', 'tls:'].includes(url.protocol) && url.hostname !== '';
    } catch {
      valid = false;
    }
    // The URL itself is not repeated: it may hold a password.
    if (!valid)
      throw new ConfigError('NATS_URL', 'must be nats://host:port (or tls://), comma-separated');
  }
  return servers;
}

/** WEBHOOK_RETRY_SCHEDULE: comma-separated durations, e.g. `5s,5m,30m,2h,5h,10h`. */
function retrySchedule(env: Env): number[] {
  const raw = str(env, 'WEBHOOK_RETRY_SCHEDULE') ?? '5s,5m,30m,2h,5h,10h';
  const delays = raw.split(',').map((part) => durationMs(part.trim().toLowerCase()));
  if (delays.length > 20 || delays.some((ms) => ms === undefined || ms < 10)) {
    throw new ConfigError(
      'WEBHOOK_RETRY_SCHEDULE',
      `must be up to 20 comma-separated durations of at least 10ms (5s,5m,30m), got "${raw}"`,
    );
  }
  return delays as number[];
}

function webhooksConfig(env: Env): WebhooksConfig {
  return {
    // Off by default: the plain start stays free of integration event writes.
    enabled: bool(env, 'WEBHOOKS_ENABLED', false),
    allowPrivateUrls: bool(env, 'WEBHOOK_ALLOW_PRIVATE_URLS', false),
    timeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 120_000),
    retryScheduleMs: retrySchedule(env),
    disableAfterMs: duration(env, 'WEBHOOK_DISABLE_AFTER', '5d', 1000),
    concurrency: int(env, 'WEBHOOK_CONCURRENCY', 32, 1, 1000),
    endpointConcurrency: int(env, 'WEBHOOK_ENDPOINT_CONCURRENCY', 16, 1, 100),
    pollMs: int(env, 'WEBHOOK_POLL_MS', 1000, 10, 600_000),
  };
}

/** The integration events are written only while a sink takes them (NATS_URL, webhooks). */
function eventsConfig(env: Env): EventsConfig {
  const servers = natsServers(env);
  const stream = str(env, 'NATS_STREAM') ?? 'SAGA_EVENTS';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(stream)) {
    throw new ConfigError('NATS_STREAM', `must be 1-64 letters, digits, _ or -, got "${stream}"`);
  }
  const maxAgeMs = duration(env, 'NATS_STREAM_MAX_AGE', '7d', 1000) ?? 0;
  const duplicateWindowMs = duration(env, 'NATS_DUPLICATE_WINDOW', '2m', 1000);
  if (duplicateWindowMs === undefined) {
    throw new ConfigError('NATS_DUPLICATE_WINDOW', 'must be a duration, not "off"');
  }
  if (maxAgeMs > 0 && duplicateWindowMs > maxAgeMs) {
    throw new ConfigError('NATS_DUPLICATE_WINDOW', 'must not be longer than NATS_STREAM_MAX_AGE');
  }
  const nats: NatsSinkConfig | undefined =
    servers === undefined
      ? undefined
      : {
          servers,
          stream,
          maxAgeMs,
          duplicateWindowMs,
          publishTimeoutMs: int(env, 'NATS_PUBLISH_TIMEOUT_MS', 5000, 100, 600_000),
        };
  const webhooks = webhooksConfig(env);
  return {
    enabled: nats !== undefined || webhooks.enabled,
    nats,
    webhooks,
    relayBatch: int(env, 'EVENTS_RELAY_BATCH', 500, 1, 10_000),
    relayPollMs: int(env, 'EVENTS_RELAY_POLL_MS', 500, 10, 600_000),
    relayLeaseMs: int(env, 'EVENTS_RELAY_LEASE_MS', 15_000, 1000, 3_600_000),
  };
}

/**
 * INSTANCE_ID, or `<host name>:<port>`: the same across restarts of one deployment, so that a
 * restarted process knows the sagas leased to that name are its own, left by its previous run.
 */
function instanceConfig(env: Env, port: number): InstanceConfig {
  const given = str(env, 'INSTANCE_ID');
  if (given !== undefined) {
    if (isIdentifier(given, 'instance')) return { id: given, explicit: true };
    throw new ConfigError(
      'INSTANCE_ID',
      `must be ${identifierRule('instance')}, got "${env.INSTANCE_ID}"`,
    );
  }
  const host = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return { id: `${(host || 'host').slice(0, 80)}:${port}`, explicit: false };
}

/** Reads and validates the environment once; a bad value throws a ConfigError naming it. */
export function buildConfig(env: Env = process.env): AppConfig {
  const url = databaseUrl(env);
  const adminToken = str(env, 'ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('ADMIN_TOKEN', 'must be at least 16 characters long');
  }
  const nodeEnv = str(env, 'NODE_ENV') ?? 'development';
  const stepRetryBaseMs = int(env, 'STEP_RETRY_BASE_MS', 20, 0, 60_000);
  const stepRetryMaxMs = int(env, 'STEP_RETRY_MAX_MS', 500, 0, 600_000);
  if (stepRetryMaxMs < stepRetryBaseMs) {
    throw new ConfigError('STEP_RETRY_MAX_MS', 'must not be below STEP_RETRY_BASE_MS');
  }
  const port = int(env, 'PORT', 3000, 0, 65535);
  const resolvedAdminToken = adminToken ?? randomBytes(24).toString('base64url');
  return {
    nodeEnv,
    instance: instanceConfig(env, port),
    port,
    host: str(env, 'HOST') ?? '0.0.0.0',
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 16 * 1024, 1024, 10 * 1024 * 1024),
    trustProxy: trustProxy(env),
    rateLimits: {
      reports: rateLimit(env, 'RATE_LIMIT_REPORTS', '10/1s'),
      public: rateLimit(env, 'RATE_LIMIT_PUBLIC', '200/1s'),
    },
    rateLimitHold: rateLimitHold(env),
    database: {
      url,
      poolSize: int(env, 'DB_POOL_SIZE', 8, 1, 200),
      slowQueryMs: int(env, 'SLOW_QUERY_MS', 200, 1, 600_000),
      embedded: {
        dir: str(env, 'EMBEDDED_PG_DIR') ?? '.data/postgres',
        port: int(env, 'EMBEDDED_PG_PORT', 54329, 1, 65535),
      },
      reporting: {
        poolSize: int(env, 'REPORTING_POOL_SIZE', 2, 1, 50),
        statementTimeoutMs: int(env, 'REPORTING_STATEMENT_TIMEOUT_MS', 5000, 100, 600_000),
        queue: int(env, 'REPORTING_QUEUE', 8, 0, 1000),
      },
      jobs: {
        poolSize: int(env, 'JOBS_POOL_SIZE', 2, 1, 20),
        statementTimeoutMs: int(env, 'JOBS_STATEMENT_TIMEOUT_MS', 60_000, 1000, 3_600_000),
      },
    },
    redisUrl: redisUrl(env),
    cache: cacheConfig(env),
    adminToken: resolvedAdminToken,
    adminTokenGenerated: adminToken === undefined,
    adminTokens: namedTokens(env, resolvedAdminToken),
    console: { readOnly: bool(env, 'CONSOLE_READ_ONLY', false) },
    // Demo data goes into the embedded database by default, never silently elsewhere.
    seedDemoData: bool(env, 'SEED_DEMO_DATA', url === undefined),
    saga: {
      defaultPattern: oneOf(env, 'SAGA_PATTERN_MODE', SAGA_PATTERNS, 'orchestration'),
      purchaseWaitMs: int(env, 'PURCHASE_WAIT_MS', 5000, 0, 300_000),
      timeoutMs: int(env, 'SAGA_TIMEOUT_MS', 30_000, 100, 86_400_000),
      stepMaxAttempts: int(env, 'STEP_MAX_ATTEMPTS', 3, 1, 20),
      stepRetryBaseMs,
      stepRetryMaxMs,
      leaseMs: int(env, 'SAGA_LEASE_MS', 15_000, 100, 3_600_000),
      recoveryPollMs: int(env, 'RECOVERY_POLL_MS', 2000, 10, 600_000),
      outboxLeaseMs: int(env, 'OUTBOX_LEASE_MS', 10_000, 100, 3_600_000),
      outboxPollMs: int(env, 'OUTBOX_POLL_MS', 1000, 10, 600_000),
      versionsCheckMs: int(env, 'SAGA_VERSIONS_CHECK_MS', 30_000, 100, 3_600_000),
      faults: str(env, 'SAGA_FAULTS') ?? '',
    },
    notificationFailureRate: ratio(env, 'NOTIFICATION_FAILURE_RATE', 0),
    monitorCron: str(env, 'MONITOR_CRON') ?? '0 */5 * * * *',
    integrity: integrityConfig(env),
    retention: retentionConfig(env),
    events: eventsConfig(env),
    rollupMs: int(env, 'STATS_ROLLUP_MS', 1000, 50, 600_000),
  };
}
