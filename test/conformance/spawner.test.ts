/**
 * The spawner contract (spawner-conformance.ts) over every backend. A new
 * backend adds one entry to BACKENDS: how to build it, how to kill a server
 * behind its state, and when it cannot run here.
 */
import process from 'node:process';
import { validateConfig } from '../../src/config/load.js';
import { LocalProcessSpawnerSchema } from '../../src/config/schema.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { Spawner, SpawnerDeps, SpawnerState } from '../../src/spawners/spawner.js';
import os from 'node:os';
import pino from 'pino';
import { TRIVIAL_SERVER } from '../helpers/hub.js';
import { cancelJobs, jobCommandDir, jobLive, portReports, removeDir, removeJobLogs, slurmUnavailable } from '../helpers/slurm-jobs.js';
import { trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { firecrestBackend } from './firecrest-backend.js';
import { kubernetesBackend } from './kubernetes-backend.js';
import { spawnerConformance, type SpawnerBackend } from './spawner-conformance.js';

/** Kills a process group (local servers run in their own), else the process. */
function killPid(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function killAndWait(state: SpawnerState): Promise<void> {
  const pid = Number(state['pid']);
  if (!pid) return;
  killPid(pid);
  await new Promise((r) => setTimeout(r, 100));
}

/**
 * The local-process spawner as `serve` builds it from config, running the
 * trivial server. Where the spawner has `run_as` (isolation, issue 9), the
 * suite runs servers as the hub's own account: the contract is the same.
 */
/** What a back-end is built with, as the hub builds it (src/spawners/backends.ts). */
function spawnerDeps(): SpawnerDeps {
  return { log: pino({ level: 'silent' }), name: 'default', now: Date.now, fetch: globalThis.fetch, dataDir: os.tmpdir() };
}

function localProcess(): SpawnerBackend {
  const spawner: Record<string, unknown> = { kind: 'local-process', cmd: [process.execPath, TRIVIAL_SERVER] };
  if ('run_as' in LocalProcessSpawnerSchema.properties) spawner['run_as'] = 'hub';
  return {
    name: 'local-process',
    create: () => createSpawner(validateConfig({ spawner }).spawner, spawnerDeps()),
    kill: killAndWait,
  };
}

/** The test doubles (test/helpers/spawner-doubles.ts) must behave as a backend does, or tests built on them prove little. */
function trivialDouble(): SpawnerBackend {
  const made: TrivialSpawner[] = [];
  return {
    name: 'trivial-double (test helper)',
    create: () => {
      const s = trivialSpawner();
      made.push(s);
      return s;
    },
    kill: killAndWait,
    cleanup: async () => {
      for (const s of made) await s.killAll();
    },
  };
}

/**
 * The Slurm batch spawner on the machine's real Slurm (commands run locally
 * as root, jobs as alice through `sudo -n -u`). The job reports its port to a
 * callback server of the test, which stands in for the hub's
 * `POST /hub/api/batchspawner` behind `req.reportedPort()`.
 */
function slurm(): SpawnerBackend {
  let reports: Awaited<ReturnType<typeof portReports>> | undefined;
  let job: ReturnType<typeof jobCommandDir> | undefined;
  const submitted = new Set<string>();
  const config = () => ({ kind: 'slurm', system_user_name: 'alice', exec_prefix: 'sudo -n -u {username}', cmd: job?.cmd ?? ['true'], startup_poll_interval: 0.2, req_runtime: '00:10:00' });
  return {
    name: 'slurm (local Slurm, jobs as alice)',
    unavailable: async () => {
      const why = slurmUnavailable();
      if (!why) {
        job = jobCommandDir();
        reports = await portReports();
      }
      return why;
    },
    create: (): Spawner => {
      const inner = createSpawner(validateConfig({ spawner: config() }).spawner, spawnerDeps());
      return {
        kind: inner.kind,
        resumable: true,
        start: (req) => {
          const token = req.env['JUPYTERHUB_API_TOKEN'] ?? '';
          const saveState = async (state: SpawnerState) => {
            if (typeof state['job_id'] === 'string') submitted.add(state['job_id']);
            await req.saveState(state);
          };
          return inner.start({ ...req, env: { ...req.env, TEST_REPORT_URL: reports?.url ?? '' }, saveState, reportedPort: async () => reports?.portOf(token) });
        },
        stop: (state, opts) => inner.stop(state, opts),
        poll: (state, opts) => inner.poll(state, opts),
      };
    },
    kill: async (state) => {
      const id = String(state['job_id']);
      cancelJobs([id]);
      for (let i = 0; i < 50 && jobLive(id); i++) await new Promise((r) => setTimeout(r, 100));
    },
    startTimeoutMs: 30_000,
    cleanup: async () => {
      cancelJobs(submitted);
      removeJobLogs(submitted);
      await reports?.close();
      if (job) removeDir(job.dir);
    },
  };
}

const BACKENDS: SpawnerBackend[] = [localProcess(), trivialDouble(), slurm(), firecrestBackend(), kubernetesBackend()];

for (const backend of BACKENDS) spawnerConformance(backend);
