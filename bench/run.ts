import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { BenchError, benchConfig, type BenchConfig } from './config';
import { startCpuSample } from './cpu';
import {
  backendPids,
  checkInvariants,
  databaseName,
  databaseNow,
  sagaStatusesBetween,
  recreateDatabase,
  sagaIds,
  serverInfo,
  snapshot,
  withDatabase,
  type Snapshot,
} from './database';
import { createFixtures, type Fixtures } from './fixtures';
import {
  purchaseBurst,
  type BurstRow,
  purchaseLoad,
  sagaReadLoad,
  warmSagaReads,
  type Pattern,
  type ScenarioRow,
} from './load';
import { rawSqlCeiling, type PgbenchResult } from './pgbench';
import { machineInfo, pgbenchLines, ratios, table, writeReport, type BenchReport } from './report';
import { existingService, startService, type Service } from './service';

const MAX_SAGA_IDS = 200_000;

const log = (line: string): void => console.log(`[bench] ${line}`);

/** The scratch database of the pgbench ceiling, beside the service's on the same server. */
function pgbenchUrl(databaseUrl: string): string {
  const name = databaseName(databaseUrl);
  return withDatabase(
    databaseUrl,
    name.includes('bench') ? `${name}_pgbench` : 'saga_bench_pgbench',
  );
}

class Bench {
  readonly scenarios: ScenarioRow[] = [];
  readonly problems: string[] = [];
  private readonly sagas = new Set<string>();

  constructor(
    private readonly config: BenchConfig,
    private readonly service: Service,
    private readonly fixtures: Fixtures,
    private readonly db: Client | undefined,
    private readonly start: Snapshot | undefined,
  ) {}

  private readonly keepSaga = (transactionId: string): void => {
    if (this.sagas.size < MAX_SAGA_IDS) this.sagas.add(transactionId);
  };

  private async measure(work: () => Promise<ScenarioRow>): Promise<ScenarioRow> {
    const { databaseUrl } = this.config;
    const pids =
      this.db === undefined || databaseUrl === undefined
        ? []
        : await backendPids(this.db, databaseName(databaseUrl));
    const sample = startCpuSample(this.service.pid, pids);
    const row = await work();
    row.cpu = sample();
    if (!this.service.alive()) throw new BenchError('The service exited during the run');
    const fiveHundreds = Object.entries(row.statuses).filter(([status]) => Number(status) >= 500);
    for (const [status, n] of fiveHundreds) {
      const codes = Object.entries(row.errorCodes ?? {})
        .filter(([key]) => key.startsWith(`${status} `))
        .map(([key, count]) => `${key.slice(status.length + 1)} ×${count}`);
      const detail = codes.length === 0 ? '' : ` (${codes.join(', ')})`;
      this.problems.push(`${row.scenario}: ${n} answers with status ${status}${detail}`);
    }
    if (row.errors > 0) {
      this.problems.push(`${row.scenario}: ${row.errors} errors (${row.timeouts} timeouts)`);
    }
    this.scenarios.push(row);
    return row;
  }

  private async invariants(row: ScenarioRow): Promise<void> {
    if (this.db === undefined || this.start === undefined) {
      row.invariants = 'not checked';
      log(`${row.scenario}: invariants not checked (no DATABASE_URL)`);
      return;
    }
    const report = await checkInvariants(this.db, this.start, this.config.settleMs);
    row.invariants = report.pass ? 'PASS' : 'FAIL';
    const statuses = Object.entries(report.sagasByStatus)
      .map(([status, n]) => `${status} ${n}`)
      .join(', ');
    log(`${row.scenario}: invariants ${row.invariants} (sagas so far: ${statuses})`);
    if (!report.pass) {
      const details = [
        ...(report.unsettled > 0
          ? [`${report.unsettled} sagas not terminal after ${report.settleMs} ms`]
          : []),
        ...report.balanceMismatches.slice(0, 5),
        ...report.stockMismatches.slice(0, 5),
      ];
      for (const detail of details) log(`  ${detail}`);
      this.problems.push(`${row.scenario}: invariants FAIL: ${details.join('; ')}`);
    }
  }

  private print(row: ScenarioRow): void {
    log(
      `${row.scenario}: ${row.requestsPerS} req/s, ${row.completedPerS ?? '-'} completed/s, ` +
        `p50/p95/p99 ${row.latencyMs.p50}/${row.latencyMs.p95}/${row.latencyMs.p99} ms, ` +
        `statuses ${JSON.stringify(row.statuses)}, errors ${row.errors} (timeouts ${row.timeouts})` +
        (row.errorCodes === undefined || Object.keys(row.errorCodes).length === 0
          ? ''
          : `, refusals and failures ${JSON.stringify(row.errorCodes)}`),
    );
  }

  async purchases(
    scenario: string,
    description: string,
    pattern: Pattern,
    itemIds: string[],
  ): Promise<void> {
    log(`${scenario}: ${description}`);
    const row = await this.measure(() =>
      purchaseLoad({
        scenario,
        description,
        url: this.service.url,
        durationS: this.config.durationS,
        connections: this.config.connections,
        pattern,
        userIds: this.fixtures.userIds,
        itemIds,
        onSaga: this.keepSaga,
      }),
    );
    this.print(row);
    await this.invariants(row);
  }

  async burst(): Promise<void> {
    const { burstUsers, burstPerUser } = this.config;
    log(`4 burst: ${burstUsers * burstPerUser} purchases at once`);
    const users = this.fixtures.userIds.slice(0, burstUsers);
    const from = this.db === undefined ? undefined : await databaseNow(this.db);
    let burst: BurstRow | undefined;
    const row = await this.measure(async () => {
      burst = await purchaseBurst(
        this.service.url,
        users,
        this.fixtures.itemIds,
        burstPerUser,
        this.keepSaga,
      );
      return burst;
    });
    this.print(row);
    log(`4 burst: all answered in ${row.durationS} s`);
    await this.invariants(row);
    if (this.db !== undefined && from !== undefined && burst !== undefined) {
      burst.sagaOutcomes = await sagaStatusesBetween(
        this.db,
        users,
        from,
        await databaseNow(this.db),
      );
      log(`4 burst: sagas recorded, by final status: ${JSON.stringify(burst.sagaOutcomes)}`);
    }
  }

  async reads(): Promise<void> {
    let ids = [...this.sagas];
    if (ids.length < 100 && this.db !== undefined) {
      ids = await sagaIds(this.db, this.fixtures.userIds, MAX_SAGA_IDS);
    }
    if (ids.length === 0) {
      this.problems.push('5 GET /saga/:id: no saga to read');
      return;
    }
    log(`5 GET /saga/:id: warming the cache with each of ${ids.length} sagas once`);
    await warmSagaReads(this.service.url, ids, Math.min(16, this.config.connections));
    const row = await this.measure(() =>
      sagaReadLoad(this.service.url, ids, this.config.durationS, this.config.connections),
    );
    this.print(row);
  }
}

async function main(): Promise<number> {
  const config = benchConfig();
  const startedAt = new Date().toISOString();
  const postgres =
    config.databaseUrl === undefined
      ? undefined
      : await serverInfo(withDatabase(config.databaseUrl, 'postgres'));
  const machine = machineInfo(postgres);
  log(
    `machine: ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, PostgreSQL ` +
      `${postgres?.version ?? '?'} (fsync ${postgres?.fsync ?? '?'}, synchronous_commit ` +
      `${postgres?.synchronousCommit ?? '?'}), load average ${machine.loadAverageAtStart.join(' ')}`,
  );

  let service: Service;
  const { targetUrl, adminToken, databaseUrl } = config;
  if (targetUrl !== undefined && adminToken !== undefined) {
    service = await existingService(targetUrl, adminToken);
    log(`target: ${targetUrl} (already running)`);
  } else if (databaseUrl !== undefined) {
    log(`recreating database ${databaseName(databaseUrl)} and starting dist/main.js on it`);
    await recreateDatabase(databaseUrl);
    service = await startService(config.repoRoot, databaseUrl, config.redisUrl);
    log(`service up at ${service.url} (pid ${service.pid ?? '?'})`);
  } else {
    throw new BenchError('Set DATABASE_URL, or BENCH_URL and ADMIN_TOKEN');
  }
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the service`);
    void service.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  let db: Client | undefined;
  let bench: Bench;
  try {
    log(`creating ${config.users} users and ${config.items + 1} items through the admin API`);
    const fixtures = await createFixtures(service, config.users, config.items);
    let start: Snapshot | undefined;
    if (config.databaseUrl !== undefined) {
      db = new Client({ connectionString: config.databaseUrl });
      await db.connect();
      start = await snapshot(db, fixtures.userIds, [...fixtures.itemIds, fixtures.hotItemId]);
    }
    bench = new Bench(config, service, fixtures, db, start);
    const spread = `POST /purchase, ${config.durationS} s at ${config.connections} connections, ${config.users} users × ${config.items} items`;
    const hot = `POST /purchase, ${config.durationS} s at ${config.connections} connections, ${config.users} users, one item`;
    await bench.purchases('1 orchestration, spread', spread, 'orchestration', fixtures.itemIds);
    await bench.purchases('2 orchestration, hot item', hot, 'orchestration', [fixtures.hotItemId]);
    await bench.purchases('3a choreography, spread', spread, 'choreography', fixtures.itemIds);
    await bench.purchases('3b choreography, hot item', hot, 'choreography', [fixtures.hotItemId]);
    await bench.burst();
    await bench.reads();
  } finally {
    await db?.end();
    log('stopping the service (and deleting its Redis keys)');
    await service.stop();
  }

  let pgbench: PgbenchResult = { available: false, reason: 'no DATABASE_URL', figures: [] };
  if (config.databaseUrl !== undefined) {
    pgbench = await rawSqlCeiling(
      pgbenchUrl(config.databaseUrl),
      join(config.repoRoot, 'bench', 'pgbench'),
      config.pgbenchClients,
      config.pgbenchThreads,
      config.durationS,
      log,
    );
  }
  for (const figure of pgbench.figures) {
    if (figure.error !== undefined)
      bench.problems.push(`pgbench ${figure.script}: ${figure.error}`);
  }

  const ratioValues = ratios(bench.scenarios, pgbench);
  const pass = bench.scenarios.every((s) => s.invariants !== 'FAIL');
  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    target: config.targetUrl ?? 'dist/main.js started by the bench',
    settings: {
      durationS: config.durationS,
      connections: config.connections,
      pattern: 'orchestration and choreography, quantity 1, price 10',
    },
    machine,
    scenarios: bench.scenarios,
    pgbench,
    ratios: ratioValues,
    pass,
    problems: bench.problems,
  };
  const file = await writeReport(config.resultsDir, report);

  console.log('');
  console.log(table(bench.scenarios));
  console.log('');
  for (const line of pgbenchLines(pgbench, ratioValues)) console.log(line);
  console.log(
    `machine: ${machine.cores} cores, ${machine.cpuModel}, Node ${machine.node}, PostgreSQL ` +
      `${postgres?.version ?? '?'}; load average before ${machine.loadAverageAtStart.join(' ')}, ` +
      `after ${loadavg()
        .map((v) => v.toFixed(2))
        .join(' ')}`,
  );
  console.log('CPU columns: % of one core during the scenario (machine: % of all cores).');
  for (const problem of bench.problems) console.log(`problem: ${problem}`);
  console.log(`invariants: ${pass ? 'PASS' : 'FAIL'}; results written to ${file}`);
  return pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof BenchError ? `bench: ${error.message}` : error);
    process.exit(1);
  },
);
