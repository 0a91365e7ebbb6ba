import { constants, createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { access, mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, gzipSync } from 'node:zlib';

/** An archive file's name: when its run started and which instance ran it. */
export function archiveFileName(startedAt: Date, instance: string): string {
  const time = startedAt.toISOString().replace(/[:.]/g, '-');
  return `sagas-${time}-${instance.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl.gz`;
}

/**
 * The archive of one retention run: gzip-compressed JSON Lines, one saga per line. Each slice
 * is appended as its own gzip member and flushed to disk before the slice's removal commits, so
 * a saga is on disk before it leaves the database. A run that dies between the two writes the
 * saga again on its next run: a reader keeps the last line of a transaction id.
 */
export class SagaArchiveWriter {
  private file: FileHandle | undefined;
  private written = 0;

  readonly path: string;

  /** Nothing is written (nor the directory made) before the first lines. */
  constructor(
    private readonly dir: string,
    name: string,
  ) {
    this.path = join(dir, name);
  }

  /** Compressed bytes written so far. */
  get bytes(): number {
    return this.written;
  }

  /** Appends the lines, durably. */
  async append(lines: string[]): Promise<number> {
    if (lines.length === 0) return 0;
    if (this.file === undefined) {
      await mkdir(this.dir, { recursive: true });
      this.file = await open(this.path, 'a', 0o640);
    }
    const chunk = gzipSync(`${lines.join('\n')}\n`);
    await this.file.write(chunk);
    await this.file.datasync();
    this.written += chunk.length;
    return chunk.length;
  }

  async close(): Promise<void> {
    await this.file?.close();
    this.file = undefined;
  }
}

/** Makes `dir` if need be and checks that files can be written there; rejects if not. */
export async function checkArchiveDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await access(dir, constants.W_OK);
}

/** The archive files at `path`: the file itself, or a directory's `*.jsonl.gz`, oldest first. */
export async function archiveFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).filter((name) => name.endsWith('.jsonl.gz')).sort();
  return names.map((name) => join(path, name));
}

/** Every line of an archive file, decompressed (all of its gzip members). */
export async function* readArchive(file: string): AsyncGenerator<string> {
  const lines = createInterface({
    // A read or decompression error destroys the chain, and the loop below throws it.
    input: pipeline(createReadStream(file), createGunzip(), () => undefined),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    if (line !== '') yield line;
  }
}
