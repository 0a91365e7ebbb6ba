import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertToolCanServe,
  connectionOf,
  describeConnection,
  fileTimestamp,
  findPgTool,
  formatBytes,
  formatDuration,
  parseArgs,
  parseToolMajor,
  pgEnvironment,
  runTool,
  toolMajorVersion,
} from './pg-tools';

/** A directory holding a fake `pg_dump` that prints a version. */
function fakeBinDir(version = '15.10'): string {
  const dir = mkdtempSync(join(tmpdir(), 'pg-bin-'));
  const path = join(dir, 'pg_dump');
  writeFileSync(
    path,
    `#!/bin/sh\necho "pg_dump (PostgreSQL) ${version}"\necho "to stderr" >&2\nexit 0\n`,
  );
  chmodSync(path, 0o755);
  return dir;
}

describe('pg-tools', () => {
  it('reads a connection URL into libpq parts, decoding escapes', () => {
    expect(connectionOf('postgres://app:p%40ss@db.example:6543/shop?sslmode=require')).toEqual({
      host: 'db.example',
      port: 6543,
      user: 'app',
      password: 'p@ss',
      database: 'shop',
      sslMode: 'require',
    });
    expect(connectionOf('postgresql://postgres@127.0.0.1/test')).toEqual({
      host: '127.0.0.1',
      port: 5432,
      user: 'postgres',
      password: undefined,
      database: 'test',
      sslMode: undefined,
    });
    // A socket directory given as ?host=, and the database defaulting to the user's name.
    expect(connectionOf('postgres://saga@localhost/?host=/var/run/postgresql')).toMatchObject({
      host: '/var/run/postgresql',
      database: 'saga',
    });
    expect(() => connectionOf('mysql://x@y/z')).toThrow(/postgres:\/\//);
  });

  it('falls back to libpq defaults for a URL naming neither user nor host', () => {
    expect(connectionOf('postgres:///shop')).toEqual({
      host: 'localhost',
      port: 5432,
      user: 'postgres',
      password: undefined,
      database: 'shop',
      sslMode: undefined,
    });
  });

  it('looks nowhere on PATH when PATH is unset', () => {
    expect(() => findPgTool('pg_dump_missing' as Parameters<typeof findPgTool>[0], {})).toThrow(
      /pg_dump_missing was not found on PATH/,
    );
  });

  it('passes the password in the environment only, and never prints it', () => {
    const connection = connectionOf('postgres://app:secret@db:5433/shop?sslmode=verify-full');
    const env = pgEnvironment(connection, { PATH: '/bin' });
    expect(env).toEqual({
      PATH: '/bin',
      PGHOST: 'db',
      PGPORT: '5433',
      PGUSER: 'app',
      PGDATABASE: 'shop',
      PGPASSWORD: 'secret',
      PGSSLMODE: 'verify-full',
    });
    expect(pgEnvironment(connectionOf('postgres://app@db/shop'), {}).PGPASSWORD).toBeUndefined();
    expect(describeConnection(connection)).toBe('"shop" on db:5433');
    expect(describeConnection(connection)).not.toContain('secret');
  });

  it('finds a tool in PG_BIN_DIR or on PATH, and says how to install it when it is missing', () => {
    const dir = fakeBinDir();
    expect(findPgTool('pg_dump', { PG_BIN_DIR: dir })).toBe(join(dir, 'pg_dump'));
    expect(findPgTool('pg_dump', { PATH: `/nonexistent:${dir}` })).toBe(join(dir, 'pg_dump'));
    expect(() => findPgTool('pg_restore', { PG_BIN_DIR: dir })).toThrow(
      /pg_restore was not found in PG_BIN_DIR .*apt-get install postgresql-client-15/,
    );
  });

  it('runs a tool without a shell and reads its version', async () => {
    const dir = fakeBinDir('16.2');
    const path = join(dir, 'pg_dump');
    const result = await runTool(path, ['--version'], {});
    expect(result).toEqual({
      code: 0,
      stdout: 'pg_dump (PostgreSQL) 16.2\n',
      stderr: 'to stderr\n',
    });
    expect(await toolMajorVersion(path)).toBe(16);
    await expect(runTool(join(dir, 'missing'), [], {})).rejects.toThrow(/ENOENT/);
  });

  it('parses versions and refuses a tool older than the server', () => {
    expect(parseToolMajor('pg_restore (PostgreSQL) 15.18 (Debian 15.18-1)')).toBe(15);
    expect(parseToolMajor('something else')).toBeUndefined();
    expect(() => assertToolCanServe('pg_dump', 15, 15)).not.toThrow();
    expect(() => assertToolCanServe('pg_dump', 16, 15)).not.toThrow();
    expect(() => assertToolCanServe('pg_dump', 14, 15)).toThrow(
      /pg_dump 14 is older than the PostgreSQL 15 server/,
    );
  });

  it('formats sizes, durations and file timestamps', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KiB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(formatDuration(250)).toBe('250 ms');
    expect(formatDuration(1500)).toBe('1.5 s');
    expect(fileTimestamp(new Date('2026-11-24T04:30:05.123Z'))).toBe('20261124T043005Z');
  });

  it('parses positionals, flags and options, refusing unknown ones', () => {
    const spec = { flags: ['force'], options: ['out'] };
    expect(parseArgs(['file.dump', '--force', '--out', 'x'], spec)).toEqual({
      positional: ['file.dump'],
      flags: new Set(['force']),
      options: new Map([['out', 'x']]),
    });
    expect(parseArgs(['--out=a=b'], spec).options.get('out')).toBe('a=b');
    expect(() => parseArgs(['--out'], spec)).toThrow('--out needs a value');
    expect(() => parseArgs(['--bogus'], spec)).toThrow('Unknown option --bogus');
    expect(() => parseArgs(['--force=yes'], spec)).toThrow('Unknown option --force=yes');
  });
});
