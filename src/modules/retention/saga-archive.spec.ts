import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  archiveFileName,
  archiveFiles,
  checkArchiveDir,
  readArchive,
  SagaArchiveWriter,
} from './saga-archive';

async function lines(file: string): Promise<string[]> {
  const found: string[] = [];
  for await (const line of readArchive(file)) found.push(line);
  return found;
}

describe('SagaArchiveWriter and readArchive', () => {
  it('appends each slice as a gzip member and reads every line back, in order', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'archive-')), 'nested');
    const name = archiveFileName(new Date('2026-01-02T03:04:05.678Z'), 'host:3000/x');
    expect(name).toBe('sagas-2026-01-02T03-04-05-678Z-host_3000_x.jsonl.gz');
    const writer = new SagaArchiveWriter(dir, name);
    expect(await writer.append([])).toBe(0);
    const first = await writer.append(['{"a":1}', '{"a":2}']);
    const second = await writer.append(['{"a":3}']);
    await writer.close();
    expect(first).toBeGreaterThan(0);
    expect(writer.bytes).toBe(first + second);
    expect(readFileSync(writer.path).length).toBe(first + second);
    // Any gzip reader takes the concatenated members as one stream.
    expect(gunzipSync(readFileSync(writer.path)).toString()).toBe('{"a":1}\n{"a":2}\n{"a":3}\n');
    expect(await lines(writer.path)).toEqual(['{"a":1}', '{"a":2}', '{"a":3}']);
    expect(await archiveFiles(dir)).toEqual([writer.path]);
    expect(await archiveFiles(writer.path)).toEqual([writer.path]);
  });

  it('lists a directory oldest first and skips what is not an archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'archive-'));
    for (const name of ['sagas-2026-02.jsonl.gz', 'notes.txt', 'sagas-2026-01.jsonl.gz']) {
      writeFileSync(join(dir, name), '');
    }
    expect(await archiveFiles(dir)).toEqual([
      join(dir, 'sagas-2026-01.jsonl.gz'),
      join(dir, 'sagas-2026-02.jsonl.gz'),
    ]);
  });

  it('checks a directory can be written, making it if need be', async () => {
    const base = mkdtempSync(join(tmpdir(), 'archive-'));
    await expect(checkArchiveDir(join(base, 'a', 'b'))).resolves.toBeUndefined();
    writeFileSync(join(base, 'file'), '');
    await expect(checkArchiveDir(join(base, 'file'))).rejects.toThrow();
  });

  it('fails on a file that is not gzip', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'archive-')), 'bad.jsonl.gz');
    writeFileSync(file, 'plain text');
    await expect(lines(file)).rejects.toThrow();
  });
});
