/**
 * How fast one instance relays integration events to NATS JetStream: EVENTS (default 20,000)
 * events of EVENTS/2 sagas wait in the database while the broker is away (as after an outage),
 * then a NATS server of the bench's own starts and the service relays the backlog. The rate is
 * the events relayed between the first look that found the backlog started and the one that
 * found it drained (looked at every 50 ms).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/saga_bench npm run bench:relay
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BenchError } from './config';
import { recreateDatabase, withClient, withDatabase } from './database';
import { freePort, startService } from './service';

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function main(): Promise<void> {
  const base = process.env.DATABASE_URL;
  if (base === undefined) throw new BenchError('Set DATABASE_URL (a server the bench may use)');
  const events = Number(process.env.EVENTS ?? 20_000);
  const batch = process.env.EVENTS_RELAY_BATCH ?? '500';
  const url = withDatabase(base, 'saga_bench_relay');
  await recreateDatabase(url);
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'saga-bench-nats-'));
  // The service starts with the broker away: it migrates, and the events wait.
  const service = await startService(resolve(__dirname, '..', '..'), url, undefined, {
    NATS_URL: `nats://127.0.0.1:${port}`,
    EVENTS_RELAY_BATCH: batch,
  });
  const nats = spawn(NATS_SERVER, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
    stdio: 'ignore',
  });
  try {
    await withClient(url, async (db) => {
      await db.query(
        `INSERT INTO integration_events (type, transaction_id, data)
         SELECT CASE WHEN n % 2 = 0 THEN 'notification.requested' ELSE 'purchase.completed' END,
                'TXN_bench_' || (n / 2),
                jsonb_build_object('userId', 'user-bench', 'itemId', 'item-bench', 'quantity', 1,
                                   'total', 10, 'status', 'completed', 'pattern', 'orchestration',
                                   'notificationId', 'NOTIF_' || (n / 2))
         FROM generate_series(0, $1::int - 1) AS n ORDER BY n`,
        [events],
      );
      while (!(await listening(port))) await sleep(50);
      const started = Date.now();
      const left = async (): Promise<number> => {
        const { rows } = await db.query<{ left: number }>(
          `SELECT count(*)::int AS left FROM integration_events e
           WHERE NOT EXISTS (SELECT 1 FROM relay_cursors c WHERE c.sink = 'jetstream'
                               AND (e.tx, e.seq) <= (c.stream_tx, c.stream_seq))`,
        );
        return rows[0].left;
      };
      let first: { at: number; left: number } | undefined;
      for (;;) {
        const now = Date.now();
        const waiting = await left();
        if (first === undefined && waiting < events) first = { at: now, left: waiting };
        if (waiting === 0) break;
        if (now - started > 600_000) throw new BenchError('The backlog did not drain');
        await sleep(50);
      }
      const drained = first ?? { at: Date.now(), left: 0 };
      const seconds = Math.max(0.001, (Date.now() - drained.at) / 1000);
      const relayed = drained.left;
      process.stdout.write(
        `relay: ${events} events (batch ${batch}); the last ${relayed} published in ` +
          `${seconds.toFixed(2)} s: ${Math.round(relayed / seconds)} events/s by one instance\n`,
      );
    });
  } finally {
    await service.stop();
    nats.kill('SIGKILL');
    rmSync(storeDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
