/**
 * The hub's poll of Slurm-backed servers in the per-user mode (no
 * `batch_query_all_cmd`, e.g. BriCS's wrappers): one query per job, spread
 * over the poll interval as issue 11 asks, each within its own time limit,
 * never all at once at the start of a round. Over a scripted transport that
 * answers as `squeue -h -j <id> -o '%T %B %r'` and notes when each ran.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { createServer, updateServer } from '../../src/db/repos/servers.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { BatchSpawner } from '../../src/spawners/batch/batch-spawner.js';
import type { SlurmSpawnerConfig } from '../../src/spawners/batch/batch-config.js';
import { slurmScheduler } from '../../src/spawners/batch/slurm.js';
import type { Transport } from '../../src/spawners/batch/transport.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const log = pino({ level: 'silent' });

/** A batch spawner whose commands are answered by `answer`, each run noted with its time. */
function scriptedSpawner(extra: Record<string, unknown>, answer: (cmd: string) => string): { spawner: BatchSpawner; runs: { cmd: string; at: number }[] } {
  const runs: { cmd: string; at: number }[] = [];
  const transport: Transport = {
    where: 'login1',
    run: async (cmd) => {
      runs.push({ cmd, at: Date.now() });
      return { stdout: answer(cmd), stderr: '', code: 0 };
    },
    close: async () => undefined,
  };
  const config = validateConfig({ spawner: { kind: 'slurm', ...extra } }).spawner as SlurmSpawnerConfig;
  return { spawner: new BatchSpawner({ config, scheduler: slurmScheduler, transport, deps: { log, name: 'default', now: Date.now, fetch: globalThis.fetch, dataDir: '/tmp' } }), runs };
}

describe('polling Slurm-backed servers without batch_query_all_cmd', () => {
  const JOBS = ['101', '102', '103', '104'];
  const { spawner, runs } = scriptedSpawner({}, () => 'RUNNING vm None');
  let t: TestHub;

  before(async () => {
    t = await startTestHub({}, { spawner });
    for (const [i, job] of JOBS.entries()) {
      const user = await ensureUser(t.hub.db, `u${i}`);
      const row = await createServer(t.hub.db, user.id, '', 'default');
      await updateServer(t.hub.db, row.id, { ready: 1, url: 'http://127.0.0.1:9', state: JSON.stringify({ v: 1, job_id: job, system_user: `u${i}`, where: 'login1' }) });
    }
  });
  after(async () => {
    await t.detach();
    await t.proxyServer.close();
  });

  it('has no pollMany (a query per job, no command for all), so the hub spreads the queries over the round', async () => {
    assert.equal(spawner.pollMany, undefined);
    assert.equal(typeof scriptedSpawner({ batch_query_all_cmd: "squeue -h -t all -o '%i %T %B %r'" }, () => '').spawner.pollMany, 'function');
    const spreadMs = 1200;
    const began = Date.now();
    await t.hub.servers.pollRound(spreadMs);
    assert.deepEqual(runs.map((r) => /\b(10[1-4])\b/.exec(r.cmd)?.[1]).sort(), JOBS, 'each job queried once');
    const first = runs[0]!.at;
    const last = runs.at(-1)!.at;
    // spread: the last query comes most of a round after the first (back to back they would be ms apart)
    assert.ok(last - first >= (spreadMs * (JOBS.length - 1)) / JOBS.length / 2, `the ${JOBS.length} queries came within ${last - first} ms`);
    assert.ok(Date.now() - began < spreadMs * 3);
  });
});
