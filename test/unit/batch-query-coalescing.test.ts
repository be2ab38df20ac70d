/**
 * Service-account mode (`batch_query_all_cmd`): 200 servers waiting in the
 * queue at once must not mean 200 scheduler commands per poll interval.
 * Over a scripted transport answering as `squeue -h -t all -o '%i %T %B %r'`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { BatchSpawner } from '../../src/spawners/batch/batch-spawner.js';
import type { SlurmSpawnerConfig } from '../../src/spawners/batch/batch-config.js';
import { slurmScheduler } from '../../src/spawners/batch/slurm.js';
import type { Transport } from '../../src/spawners/batch/transport.js';
import type { SpawnRequest } from '../../src/spawners/spawner.js';

const log = pino({ level: 'silent' });
const JOBS = 200;

describe('batch spawner in service-account mode', () => {
  it(`${JOBS} start loops waiting in the queue share one query per interval`, async () => {
    const ids = Array.from({ length: JOBS }, (_, i) => String(1000 + i));
    let commands = 0;
    const transport: Transport = {
      where: 'login1',
      run: async (cmd) => {
        commands++;
        assert.equal(cmd, "squeue -h -t all -o '%i %T %B %r'", 'a per-job query ran');
        return { stdout: ids.map((id) => `${id} PENDING n/a Priority`).join('\n'), stderr: '', code: 0 };
      },
      close: async () => undefined,
    };
    const config = validateConfig({ spawner: { kind: 'slurm', startup_poll_interval: 0.1, batch_query_all_cmd: "squeue -h -t all -o '%i %T %B %r'" } }).spawner as SlurmSpawnerConfig;
    const spawner = new BatchSpawner({ config, scheduler: slurmScheduler, transport, deps: { log, name: 'cluster-a', now: Date.now, fetch: globalThis.fetch, dataDir: '/tmp' } });
    const ctl = new AbortController();
    const starts = ids.map((id) => {
      const req: SpawnRequest = {
        user: { name: `u${id}`, admin: false, groups: [] },
        serverName: '',
        backend: 'cluster-a',
        env: {},
        userOptions: {},
        workDir: '/tmp',
        log,
        saveState: async () => undefined,
        progress: () => undefined,
        reportedPort: async () => undefined,
        resumeState: { v: 1, job_id: id, system_user: `u${id}`, where: 'login1' },
        signal: ctl.signal,
      };
      return spawner.start(req).catch((err: Error) => err);
    });
    const ms = 1000;
    await new Promise((r) => setTimeout(r, ms));
    ctl.abort();
    const outcomes = await Promise.all(starts);
    assert.ok(outcomes.every((o) => o instanceof Error && /given up/.test(o.message)));
    const intervals = ms / (config.startup_poll_interval * 1000);
    assert.ok(commands <= intervals * 2, `${commands} commands in ${intervals} poll intervals for ${JOBS} jobs`);
    assert.ok(commands >= intervals / 2, `only ${commands} commands: the loops stopped asking`);
  });
});
