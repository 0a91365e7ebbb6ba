/**
 * How fast one instance delivers webhooks: EVENTS (default 5,000) integration events wait in the
 * database, two endpoints are registered (one answering 204 at once, one answering only after
 * the attempt's deadline), and each endpoint's stream reads them and posts them. Reports the
 * fast endpoint's delivery rate, and how far the slow one got meanwhile.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/saga_bench npm run bench:webhooks
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { BenchError } from './config';
import { recreateDatabase, withClient, withDatabase } from './database';
import { startService } from './service';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function main(): Promise<void> {
  const base = process.env.DATABASE_URL;
  if (base === undefined) throw new BenchError('Set DATABASE_URL (a server the bench may use)');
  const events = Number(process.env.EVENTS ?? 5000);
  const url = withDatabase(base, 'saga_bench_webhooks');
  await recreateDatabase(url);
  let received = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/slow') return void setTimeout(() => res.end(), 3000);
      received++;
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const service = await startService(resolve(__dirname, '..', '..'), url, undefined, {
    WEBHOOKS_ENABLED: 'true',
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    WEBHOOK_TIMEOUT_MS: '1000',
  });
  try {
    for (const path of ['/fast', '/slow']) {
      const answer = await fetch(`${service.url}/admin/webhooks`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${service.adminToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ url: `${target}${path}`, events: ['purchase.completed'] }),
      });
      if (answer.status !== 201) throw new BenchError(`registering ${path}: ${answer.status}`);
    }
    await withClient(url, async (db) => {
      const started = Date.now();
      await db.query(
        `INSERT INTO integration_events (type, transaction_id, data)
         SELECT 'purchase.completed', 'TXN_bench_' || n,
                jsonb_build_object('userId', 'user-bench', 'itemId', 'item-bench', 'quantity', 1,
                                   'total', 10, 'status', 'completed', 'pattern', 'orchestration')
         FROM generate_series(1, $1::int) AS n`,
        [events],
      );
      while (received < events) {
        if (Date.now() - started > 600_000) throw new BenchError('The deliveries did not drain');
        await sleep(100);
      }
      const seconds = (Date.now() - started) / 1000;
      // The slow endpoint's attempts are recorded a batch (4 rounds of its slots) at a time.
      await sleep(5000);
      const { rows } = await db.query<{ slow: number }>(
        `SELECT count(*)::int AS slow FROM webhook_attempts a
         JOIN webhook_deliveries d ON d.id = a.delivery_id
         JOIN webhook_endpoints w ON w.id = d.endpoint_id
         WHERE w.url LIKE '%/slow'`,
      );
      process.stdout.write(
        `webhooks: ${events} events streamed to 2 endpoints; ` +
          `the fast endpoint had all ${events} in ${seconds.toFixed(2)} s ` +
          `(${Math.round(events / seconds)} deliveries/s by one instance); ` +
          `5 s later the slow one (answers after the 1 s deadline) had ${rows[0].slow} attempt(s) recorded\n`,
      );
    });
  } finally {
    await service.stop();
    receiver.closeAllConnections();
    receiver.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
