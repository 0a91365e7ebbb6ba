import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SchedulerRegistry } from '@nestjs/schedule';
import { register } from 'prom-client';
import { buildConfig, ConfigError, type AppConfig } from '../../config/configuration';
import { formatIntegrityReport } from './integrity-report';
import type { IntegrityFindings } from './integrity.repository';
import { IntegrityScheduler } from './integrity.scheduler';
import {
  emptyFindings,
  IntegrityService,
  mergeFindings,
  type IntegrityFindingsSource,
} from './integrity.service';

const none = (): IntegrityFindings => emptyFindings({ ledgerSeq: '0', finishedAfter: new Date(0) });

function service(
  findings: () => Promise<IntegrityFindings>,
  env: Record<string, string> = {},
): { integrity: IntegrityService; findAll: jest.Mock; findChanged: jest.Mock } {
  const findAll = jest.fn(findings);
  const findChanged = jest.fn(async () => ({
    findings: await findings(),
    pairs: 0,
    sagas: 0,
    more: false,
  }));
  const repository: IntegrityFindingsSource = {
    findAll,
    findChanged,
    checkpoint: jest.fn(() => Promise.resolve({ ledgerSeq: '0', finishedAfter: new Date(0) })),
    advance: jest.fn(() => Promise.resolve()),
    pendingChanges: jest.fn(() => Promise.resolve(0)),
    forgetChanges: jest.fn(() => Promise.resolve()),
  };
  const config = new ConfigService<AppConfig, true>(
    buildConfig({ SAGA_TIMEOUT_MS: '30000', ...env }),
  );
  return { integrity: new IntegrityService(repository, config), findAll, findChanged };
}

async function gauge(check: string): Promise<number | undefined> {
  const metric = register.getSingleMetric('saga_integrity_violations');
  const values = (await metric?.get())?.values ?? [];
  return values.find((v) => v.labels.check === check)?.value;
}

describe('IntegrityService', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('asks for one snapshot with the configured limits and reports a clean database', async () => {
    const { integrity, findAll } = service(() => Promise.resolve(none()), {
      OUTBOX_MAX_PENDING_MS: '5000',
      VERIFY_MAX_LISTED: '7',
    });
    const report = await integrity.verify();
    expect(findAll).toHaveBeenCalledWith({
      sagaTimeoutMs: 30_000,
      outboxMaxPendingMs: 5000,
      limit: 7,
    });
    expect(report).toMatchObject({ clean: true, violations: 0 });
    expect(report.checks).toHaveLength(9);
    expect(await gauge('user_balance')).toBe(0);
    expect(Logger.prototype.log).toHaveBeenCalledWith(expect.stringMatching(/clean/));
    expect(formatIntegrityReport(report, '"db" on h:1')).toMatch(
      /^Integrity of "db" on h:1: clean \(9 checks in \d+ ms\)\n {2}ok {3}user_balance/,
    );
  });

  it('turns every kind of finding into violations with ids, counts them all, logs once', async () => {
    const findings = none();
    findings.balances = [
      {
        user_id: 'u1',
        balance: '12.50',
        credited_total: '10.00',
        completed_total: '0.00',
        in_flight_total: '0.00',
        expected: '10.00',
        total: '3',
      },
    ];
    findings.stock = [
      {
        item_id: 'i1',
        stock: 4,
        stocked_total: 10,
        completed_quantity: 5,
        in_flight_quantity: 0,
        expected: 5,
        total: '1',
      },
    ];
    findings.logs = [
      { transaction_id: 'T1', user_id: 'u1', status: 'compensated', completed_logs: 1, total: '1' },
      { transaction_id: 'T2', user_id: 'u2', status: 'completed', completed_logs: 0, total: '1' },
    ];
    findings.inventory = [
      {
        user_id: 'u1',
        item_id: 'i1',
        quantity: 2,
        completed_quantity: 0,
        in_flight_quantity: 0,
        total: '1',
      },
    ];
    findings.stuckSagas = [
      {
        transaction_id: 'T3',
        user_id: 'u1',
        item_id: 'i1',
        status: 'pending',
        error_step: null,
        age_ms: '99000',
        total: '1',
      },
    ];
    findings.failedCompensations = [
      {
        transaction_id: 'T4',
        user_id: 'u1',
        item_id: 'i1',
        status: 'failed',
        error_step: null,
        age_ms: '5',
        total: '1',
      },
    ];
    findings.outbox = [
      {
        id: '42',
        event_type: 'UserValidated',
        aggregate_id: 'T5',
        attempts: 3,
        age_ms: '70000',
        total: '1',
      },
    ];
    findings.negatives = [
      { kind: 'user', id: 'u9', amount: '-1.00', total: '2' },
      { kind: 'item', id: 'i9', amount: '-2', total: '2' },
    ];
    const { integrity } = service(() => Promise.resolve(findings));
    const report = await integrity.verify();
    const byCheck = Object.fromEntries(report.checks.map((c) => [c.check, c]));

    expect(report.clean).toBe(false);
    // Totals count every offender, not only those listed.
    expect(byCheck.user_balance.violations).toBe(3);
    expect(report.violations).toBe(3 + 1 + 1 + 1 + 1 + 1 + 1 + 2);
    expect(byCheck.user_balance.listed).toEqual([
      expect.objectContaining({ userId: 'u1', expected: 10, actual: 12.5 }),
    ]);
    expect(byCheck.item_stock.listed[0]).toMatchObject({ itemId: 'i1', expected: 5, actual: 4 });
    expect(
      byCheck.completed_log.listed.map((v) => [v.transactionId, v.expected, v.actual]),
    ).toEqual([
      ['T1', 0, 1],
      ['T2', 1, 0],
    ]);
    expect(byCheck.inventory.listed[0]).toMatchObject({ userId: 'u1', itemId: 'i1', actual: 2 });
    expect(byCheck.stuck_saga.listed[0]).toMatchObject({ transactionId: 'T3', actual: 'pending' });
    expect(byCheck.compensation_failed.listed[0].message).toContain('POST /compensate/T4');
    expect(byCheck.outbox_backlog.listed[0]).toMatchObject({
      outboxEventId: '42',
      transactionId: 'T5',
    });
    expect(byCheck.negative_amount.listed).toEqual([
      expect.objectContaining({ userId: 'u9', actual: -1 }),
      expect.objectContaining({ itemId: 'i9', actual: -2 }),
    ]);
    expect(await gauge('user_balance')).toBe(3);
    expect(await gauge('negative_amount')).toBe(2);

    expect(Logger.prototype.warn).toHaveBeenCalledTimes(1);
    expect(Logger.prototype.warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /found 11 violation\(s\).*user_balance=3 \[u1\].*completed_log=1 \[T1\/u1, T2\/u2\]/,
      ),
    );
    const text = formatIntegrityReport(report, 'x');
    expect(text).toMatch(/^Integrity of x: 11 violation\(s\)/);
    expect(text).toContain('FAIL user_balance');
    expect(text).toContain('- User u1: balance 12.50, expected 10.00');
    expect(text).toContain('... and 2 more');
  });
});

describe('IntegrityService, incremental', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it('checks slice after slice from the checkpoint, moving it past each, counts added up', async () => {
    const balance = (user: string, total: string) => ({
      user_id: user,
      balance: '1.00',
      credited_total: '0.00',
      completed_total: '0.00',
      in_flight_total: '0.00',
      expected: '0.00',
      total,
    });
    const slices = [
      {
        findings: {
          ...none(),
          balances: [balance('u1', '2'), balance('u2', '2')],
          covered: { ledgerSeq: '10', finishedAfter: new Date('2026-01-01T00:00:00Z') },
        },
        pairs: 10,
        sagas: 7,
        more: true,
      },
      {
        findings: {
          ...none(),
          balances: [balance('u3', '1')],
          covered: { ledgerSeq: '14', finishedAfter: new Date('2026-01-01T00:00:05Z') },
        },
        pairs: 4,
        sagas: 0,
        more: false,
      },
    ];
    let call = 0;
    const findChanged = jest.fn(() => Promise.resolve(slices[call++]));
    const advance = jest.fn(() => Promise.resolve());
    const forgetChanges = jest.fn(() => Promise.resolve());
    const from = { ledgerSeq: '3', finishedAfter: new Date('2025-12-31T23:59:00Z') };
    const repository: IntegrityFindingsSource = {
      findAll: jest.fn(() => Promise.reject(new Error('not full'))),
      findChanged,
      checkpoint: jest.fn(() => Promise.resolve(from)),
      advance,
      pendingChanges: jest.fn(() => Promise.resolve(0)),
      forgetChanges,
    };
    const integrity = new IntegrityService(
      repository,
      new ConfigService<AppConfig, true>(
        buildConfig({ VERIFY_SLICE: '10', VERIFY_MAX_LISTED: '2' }),
      ),
    );
    const report = await integrity.verify('incremental');
    expect(findChanged).toHaveBeenCalledTimes(2);
    expect(findChanged).toHaveBeenNthCalledWith(
      1,
      expect.objectContaining({ from, slice: 10, first: true }),
    );
    expect(findChanged).toHaveBeenNthCalledWith(
      2,
      expect.objectContaining({
        from: { ledgerSeq: '10', finishedAfter: new Date('2026-01-01T00:00:00Z') },
        first: false,
      }),
    );
    expect(advance).toHaveBeenLastCalledWith({
      ledgerSeq: '14',
      finishedAfter: new Date('2026-01-01T00:00:00Z'),
    });
    // The changes of the runs before go; this run's stay for a run set back to check again.
    expect(forgetChanges).toHaveBeenCalledTimes(1);
    expect(forgetChanges).toHaveBeenCalledWith('3');
    const balances = report.checks.find((c) => c.check === 'user_balance');
    expect(balances?.violations).toBe(3);
    expect(balances?.listed.map((v) => v.userId)).toEqual(['u1', 'u2']);
    expect(report).toMatchObject({
      mode: 'incremental',
      clean: false,
      progress: { slices: 2, changesChecked: 14, sagasChecked: 7, changesLeft: 0 },
    });
  });
  it('reports a run whose checked changes could not be deleted, and says so in the log', async () => {
    const covered = { ledgerSeq: '20', finishedAfter: new Date('2026-01-01T00:00:00Z') };
    const repository: IntegrityFindingsSource = {
      findAll: jest.fn(() => Promise.resolve({ ...none(), covered })),
      findChanged: jest.fn(() => Promise.reject(new Error('not incremental'))),
      checkpoint: jest.fn(() =>
        Promise.resolve({ ledgerSeq: '5', finishedAfter: new Date('2025-12-31T00:00:00Z') }),
      ),
      advance: jest.fn(() => Promise.resolve()),
      pendingChanges: jest.fn(() => Promise.resolve(0)),
      forgetChanges: jest.fn(() => Promise.reject(new Error('connection lost'))),
    };
    const integrity = new IntegrityService(
      repository,
      new ConfigService<AppConfig, true>(buildConfig({})),
    );
    const report = await integrity.verify('full');
    expect(report).toMatchObject({ clean: true, progress: { to: covered } });
    expect(repository.forgetChanges).toHaveBeenCalledWith('5');
    expect(Logger.prototype.warn).toHaveBeenCalledWith(
      expect.stringMatching(/checked ledger changes failed: connection lost/),
    );
  });
});

describe('mergeFindings', () => {
  it('adds up the counts of two slices and keeps the first rows, a slice without any included', () => {
    const log = (id: string, total: string) => ({
      transaction_id: id,
      user_id: 'u',
      status: 'completed',
      completed_logs: 0,
      total,
    });
    const first = { ...none(), logs: [log('T1', '4'), log('T2', '4')] };
    const second = {
      ...none(),
      logs: [log('T3', '1')],
      covered: { ledgerSeq: '9', finishedAfter: new Date(5) },
    };
    const merged = mergeFindings(first, second, 2);
    expect(merged.logs.map((r) => [r.transaction_id, r.total])).toEqual([
      ['T1', '5'],
      ['T2', '5'],
    ]);
    expect(merged.covered).toEqual({ ledgerSeq: '9', finishedAfter: new Date(5) });
    expect(merged.balances).toEqual([]);
    expect(mergeFindings(none(), second, 2).logs).toEqual([log('T3', '1')]);
  });
});

describe('IntegrityScheduler', () => {
  afterEach(() => jest.restoreAllMocks());

  const config = (env: Record<string, string>) =>
    new ConfigService<AppConfig, true>(buildConfig(env));

  it('refuses a bad VERIFY_CRON, naming it', () => {
    const { integrity } = service(() => Promise.resolve(none()));
    expect(
      () =>
        new IntegrityScheduler(
          integrity,
          new SchedulerRegistry(),
          config({ VERIFY_CRON: 'every tuesday' }),
        ),
    ).toThrow(ConfigError);
  });

  it('schedules the job, never runs two at once, and stops it on shutdown', async () => {
    let release: () => void = () => undefined;
    const { integrity, findAll, findChanged } = service(
      () => new Promise<IntegrityFindings>((resolve) => (release = () => resolve(none()))),
    );
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const registry = new SchedulerRegistry();
    const scheduler = new IntegrityScheduler(
      integrity,
      registry,
      config({ VERIFY_CRON: '0 0 * * * *', VERIFY_FULL_CRON: '0 30 3 * * *' }),
    );
    scheduler.onApplicationBootstrap();
    expect(registry.getCronJobs().size).toBe(2);

    const first = scheduler.tick();
    const second = scheduler.tick();
    expect(second).toBe(first);
    // An advance is awaited before the findings: let the tick reach them.
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await first;
    // The scheduled run is the incremental one.
    expect(findChanged).toHaveBeenCalledTimes(1);
    expect(findAll).not.toHaveBeenCalled();

    await scheduler.beforeApplicationShutdown();
    expect(registry.getCronJobs().size).toBe(0);
  });

  it('logs a run that failed instead of throwing, and can be switched off', async () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const { integrity } = service(() => Promise.reject(new Error('database gone')));
    const registry = new SchedulerRegistry();
    const scheduler = new IntegrityScheduler(
      integrity,
      registry,
      config({ VERIFY_CRON: 'off', VERIFY_FULL_CRON: 'off' }),
    );
    scheduler.onApplicationBootstrap();
    expect(registry.getCronJobs().size).toBe(0);
    await scheduler.tick();
    expect(error).toHaveBeenCalledWith(expect.stringContaining('database gone'));
    await scheduler.beforeApplicationShutdown();
  });
});
