// `npm run archive:read -- <file or directory> [--transaction ID] [--user ID]`: prints the sagas
// of a retention archive (ARCHIVE_DIR), one JSON object a line, the last copy of each only.
import { once } from 'node:events';
import { errorMessage } from '../common/errors/error-message';
import { parseArgs } from '../database/pg-tools';
import { archiveFiles, readArchive } from '../modules/retention/saga-archive';

interface ArchivedSaga {
  saga: { transaction_id: string; user_id: string };
}

// A reader that stops early (`| head`) is no failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { flags: [], options: ['transaction', 'user'] });
  if (args.positional.length !== 1) {
    throw new Error('usage: archive-read.js <file or directory> [--transaction ID] [--user ID]');
  }
  const transaction = args.options.get('transaction');
  const user = args.options.get('user');
  // A saga written twice (a run that died before its removal committed) is printed once.
  const found = new Map<string, string>();
  for (const file of await archiveFiles(args.positional[0])) {
    for await (const line of readArchive(file)) {
      const { saga } = JSON.parse(line) as ArchivedSaga;
      if (transaction !== undefined && saga.transaction_id !== transaction) continue;
      if (user !== undefined && saga.user_id !== user) continue;
      found.delete(saga.transaction_id);
      found.set(saga.transaction_id, line);
    }
  }
  for (const line of found.values()) {
    // A pipe takes output at its reader's pace: wait for it rather than buffer it all.
    if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
  }
  // Everything written out before the process exits.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  return found.size > 0 || (transaction === undefined && user === undefined) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`Reading the archive failed: ${errorMessage(error)}`);
    process.exit(2);
  },
);
