import { BenchError } from './config';
import {
  databaseName,
  dropDatabase,
  recreateDatabase,
  serverInfo,
  withClient,
  withDatabase,
} from './database';
import { machineInfo } from './report';
import { scaleConfig, type ScaleConfig } from './scale-config';
import {
  diskUsage,
  growTo,
  insertUsersAndItems,
  OUTCOME_SHARES,
  sagaCount,
  SCALE_DAYS,
  SCALE_USERS,
  scaleFixtures,
} from './scale-data';
import { migrate, retentionDryRun, verify, type JobRun } from './scale-jobs';
import { measureService, scaleServiceEnv } from './scale-measure';
import {
  machineLine,
  scaleTable,
  writeScaleReport,
  type ScaleReport,
  type SizeResult,
} from './scale-report';
import type { Service } from './service';

const log = (line: string): void => console.log(`[bench:scale] ${line}`);

function jobProblem(size: number, run: JobRun, clean: boolean): string | undefined {
  if (run.exitCode === 0 && clean) return undefined;
  return `${run.command} at ${size.toLocaleString('en-US')} sagas: exit ${run.exitCode ?? 'killed'}, ${run.summary}`;
}

/** One size: grow to it, weigh it, run the jobs, then (unless growing only) the service. */
async function size(
  config: ScaleConfig,
  target: number,
  onService: (service: Service | undefined) => void,
  report: Pick<ScaleReport, 'problems' | 'notes'>,
): Promise<SizeResult> {
  const fixtures = scaleFixtures();
  return withClient(config.databaseUrl, async (db) => {
    log(`growing to ${target.toLocaleString('en-US')} sagas, ${config.chunk} per transaction`);
    const growth = await growTo(db, target, config.chunk, log);
    log(
      `grown from ${growth.from} to ${growth.to} sagas in ${growth.seconds} s ` +
        `(${growth.sagasPerS} sagas/s), VACUUM (ANALYZE) ${growth.vacuumAnalyzeS} s`,
    );
    const disk = await diskUsage(db);
    log(
      `database ${Math.round(disk.databaseBytes / 1e6)} MB; ` +
        disk.tables
          .map(
            (t) =>
              `${t.table} ${Math.round(t.tableBytes / 1e6)} + ${Math.round(t.indexBytes / 1e6)} MB`,
          )
          .join(', '),
    );
    const sagas = await sagaCount(db);
    log('npm run verify');
    const verified = await verify(config.repoRoot, config.databaseUrl);
    log(`  ${verified.wallMs} ms, exit ${verified.exitCode}: ${verified.summary}`);
    log('npm run purge -- --dry-run');
    const dryRun = await retentionDryRun(config.repoRoot, config.databaseUrl);
    log(`  ${dryRun.wallMs} ms, exit ${dryRun.exitCode}: ${dryRun.summary}`);
    for (const problem of [
      jobProblem(target, verified, verified.summary.startsWith('clean')),
      jobProblem(target, dryRun, true),
    ]) {
      if (problem !== undefined) report.problems.push(problem);
    }
    const result: SizeResult = {
      target,
      sagas,
      growth,
      disk,
      verify: verified,
      retentionDryRun: dryRun,
    };
    if (!config.growOnly) {
      result.service = await measureService(config, fixtures, db, log, onService);
      for (const timing of result.service.routes) {
        const odd = Object.keys(timing.statuses).filter((status) => !/^2\d\d$/.test(status));
        if (odd.length > 0) {
          report.notes.push(
            `${timing.route} at ${target.toLocaleString('en-US')} sagas: ${JSON.stringify(timing.statuses)}`,
          );
        }
      }
    }
    return result;
  });
}

/**
 * `npm run bench:scale`: grows a database to each size in turn (BENCH_SCALE_SIZES), and at each
 * measures the reporting routes, the jobs, purchases alone and beside anonymous callers of the
 * public statistics, and cold saga reads; writes bench/results/scale-<time>.{json,md}.
 */
async function main(): Promise<number> {
  const config = scaleConfig(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const postgres = await serverInfo(withDatabase(config.databaseUrl, 'postgres'));
  const machine = machineInfo(postgres);
  log(`machine: ${machineLine(machine)}`);
  const report: ScaleReport = {
    startedAt,
    database: databaseName(config.databaseUrl),
    settings: {
      sizes: config.sizes,
      growOnly: config.growOnly,
      chunk: config.chunk,
      users: SCALE_USERS,
      days: SCALE_DAYS,
      outcomeShares: Object.fromEntries(OUTCOME_SHARES),
      loadS: config.loadS,
      connections: config.connections,
      hostileConnections: config.hostileConnections,
      calls: config.calls,
      routeTimeoutS: config.routeTimeoutS,
      redis: config.redisUrl !== undefined,
      serviceEnv: scaleServiceEnv(),
    },
    machine,
    sizes: [],
    problems: [],
    notes: [],
  };

  let running: Service | undefined;
  const stopOnSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping the service; the database ${report.database} is left behind`);
    void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  log(`recreating ${report.database}, migrating it, adding ${SCALE_USERS} users and 200 items`);
  await recreateDatabase(config.databaseUrl);
  try {
    await migrate(config.repoRoot, config.databaseUrl);
    await withClient(config.databaseUrl, insertUsersAndItems);
    for (const target of config.sizes) {
      report.sizes.push(await size(config, target, (service) => (running = service), report));
      await writeScaleReport(config.resultsDir, report);
    }
    if (!config.growOnly) {
      log('npm run verify, once every run is done');
      report.finalVerify = await verify(config.repoRoot, config.databaseUrl);
      log(`  ${report.finalVerify.wallMs} ms: ${report.finalVerify.summary}`);
      const problem = jobProblem(
        config.sizes.at(-1) ?? 0,
        report.finalVerify,
        report.finalVerify.summary.startsWith('clean'),
      );
      if (problem !== undefined) report.problems.push(`final ${problem}`);
    }
  } finally {
    if (config.keep) log(`keeping ${report.database} (--keep)`);
    else await dropDatabase(config.databaseUrl);
  }
  report.finishedAt = new Date().toISOString();
  const files = await writeScaleReport(config.resultsDir, report);
  console.log('');
  console.log(scaleTable(report.sizes));
  console.log('');
  console.log(`machine: ${machineLine(machine)}`);
  for (const note of report.notes) console.log(`note: ${note}`);
  for (const problem of report.problems) console.log(`problem: ${problem}`);
  console.log(`results written to ${files.json} and ${files.markdown}`);
  return report.problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof BenchError ? `bench:scale: ${error.message}` : error);
    process.exit(1);
  },
);
