/**
 * A throw-away PostgreSQL server for the store tests: initdb in a temp dir
 * (as the `postgres` system user when run as root), listening on 127.0.0.1 on
 * a free port, stopped by `stop()`. Returns undefined, with a visible notice,
 * when PostgreSQL is not installed (scripts/test.sh installs it).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/lib/free-port.js';

export interface TestPostgres {
  url: string;
  stop(): void;
}

function pgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(path.join(root, v, 'bin', 'initdb'))) return path.join(root, v, 'bin');
  return undefined;
}

/** Whether {@link startPostgres} can start a server here (or one is given by GANYMEDE_TEST_PG_URL). */
export function postgresAvailable(): boolean {
  return Boolean(process.env['GANYMEDE_TEST_PG_URL']) || pgBin() !== undefined;
}

export async function startPostgres(): Promise<TestPostgres | undefined> {
  if (process.env['GANYMEDE_TEST_PG_URL']) return { url: process.env['GANYMEDE_TEST_PG_URL'], stop: () => undefined };
  const bin = pgBin();
  if (!bin) {
    process.stderr.write('NOTICE: PostgreSQL is not installed; the PostgreSQL store tests are skipped (scripts/test.sh installs it)\n');
    return undefined;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const full = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    const r = spawnSync(full[0] as string, full[1] as string[], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
  const data = path.join(dir, 'data');
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'ganymede', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort('127.0.0.1');
  run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  run(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'ganymede', 'ganymede_test']);
  return {
    url: `postgres://ganymede@127.0.0.1:${port}/ganymede_test`,
    stop: () => {
      try {
        run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
