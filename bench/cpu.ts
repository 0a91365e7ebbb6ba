import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU used during a scenario, in % of one core (200% = both cores of a 2-core machine). */
export interface CpuUsage {
  /** The service's Node process. */
  servicePct: number | null;
  /** The PostgreSQL backends serving the service's database. */
  postgresPct: number | null;
  /** This process: the load generator, which shares the machine. */
  benchPct: number;
  /** The whole machine, every process included (others' too), in % of all cores. */
  machinePct: number | null;
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

const TICKS = process.platform === 'linux' ? clockTicks() : 100;

/** utime + stime of a process in seconds, or null when /proc cannot tell (gone, not Linux). */
function processSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return null;
  }
}

function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

function sum(pids: number[]): number | null {
  const values = pids.map(processSeconds).filter((v): v is number => v !== null);
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0);
}

/** Starts measuring; the returned function gives the usage since then. */
export function startCpuSample(servicePid: number | undefined, postgresPids: number[]) {
  const began = process.hrtime.bigint();
  const bench = process.cpuUsage();
  const service = servicePid === undefined ? null : processSeconds(servicePid);
  const postgres = sum(postgresPids);
  const machine = machineTicks();
  return (): CpuUsage => {
    const wallS = Number(process.hrtime.bigint() - began) / 1e9;
    const pct = (seconds: number): number => Math.round((seconds / wallS) * 100);
    const benchUsed = process.cpuUsage(bench);
    const serviceNow = servicePid === undefined ? null : processSeconds(servicePid);
    const postgresNow = sum(postgresPids);
    const machineNow = machineTicks();
    return {
      servicePct: service === null || serviceNow === null ? null : pct(serviceNow - service),
      postgresPct: postgres === null || postgresNow === null ? null : pct(postgresNow - postgres),
      benchPct: pct((benchUsed.user + benchUsed.system) / 1e6),
      machinePct:
        machine === null || machineNow === null || machineNow.total === machine.total
          ? null
          : Math.round(
              ((machineNow.busy - machine.busy) / (machineNow.total - machine.total)) * 100,
            ),
    };
  };
}
