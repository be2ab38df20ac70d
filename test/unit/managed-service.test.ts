import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ManagedService } from '../../src/services/managed-service.js';
import { alive } from '../helpers/process-alive.js';

const quiet = pino({ level: 'silent' });
const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-managed-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const node = (code: string) => [process.execPath, '-e', code];
const spec = (name: string, command: string[]) => ({ name, command, env: { PATH: process.env['PATH'] ?? '' }, logFile: path.join(dir, `${name}.log`) });

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ManagedService', () => {
  it('a process ignoring SIGTERM is killed after the stop timeout', async () => {
    const s = new ManagedService(spec('stubborn', node("process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)")), quiet, {
      restartMinMs: 50,
      restartMaxMs: 50,
      healthyAfterMs: 10_000,
      stopTimeoutMs: 300,
    });
    s.start();
    await until('output', () => readFileSync(path.join(dir, 'stubborn.log'), 'utf8').includes('up'));
    const pid = s.pid;
    assert.ok(pid > 0);
    const t0 = Date.now();
    await s.stop();
    assert.ok(Date.now() - t0 >= 280, 'waited for SIGTERM first');
    assert.ok(!alive(pid));
    assert.equal(s.pid, 0);
  });

  it('a process that keeps exiting is restarted with a doubling, bounded wait, and not after stop', async () => {
    const s = new ManagedService(spec('crashy', node('process.exit(3)')), quiet, { restartMinMs: 40, restartMaxMs: 160, healthyAfterMs: 10_000, stopTimeoutMs: 300 });
    s.start();
    await new Promise((r) => setTimeout(r, 1200));
    // waits 40, 80, 160, 160, ... plus each start: far fewer than 1200/40 starts, more than 3
    assert.ok(s.starts >= 4 && s.starts <= 12, `started ${s.starts} times`);
    await s.stop();
    const n = s.starts;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(s.starts, n, 'no restart after stop');
  });

  it('a command that cannot start is retried, not thrown', async () => {
    const s = new ManagedService(spec('missing', [path.join(dir, 'no-such-program')]), quiet, { restartMinMs: 50, restartMaxMs: 50, healthyAfterMs: 10_000, stopTimeoutMs: 300 });
    s.start();
    await until('a retry', () => s.starts >= 2);
    await s.stop();
  });
});
