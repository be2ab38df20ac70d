/**
 * The FirecREST spawner as a back-end of the spawner conformance suite: built
 * with `createSpawner` from a validated `kind: firecrest` config, talking to
 * the FirecREST stand-in (test/helpers/firecrest-standin.ts) over the real
 * local Slurm, with real JWT access tokens of the real oidc-provider. The job
 * runs copies of bin/ganymede-singleuser and the trivial server as alice; the
 * launcher reports its port to a callback server of the test, reached through
 * `hub_connect_url`, which stands in for the hub's port report route behind
 * `req.reportedPort()`. Every hub user the suite makes gets alice's token
 * (test/helpers/oidc-user-tokens.ts). `kill` is `scancel` as root.
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { Spawner, SpawnerState } from '../../src/spawners/spawner.js';
import { startFirecrestStandin, type FirecrestStandin } from '../helpers/firecrest-standin.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { oneLoginUserTokens, TOKEN_LOGIN_REDIRECT } from '../helpers/oidc-user-tokens.js';
import { ensureSlurmCluster } from '../helpers/slurm-cluster.js';
import { jobFiles, type JobFiles } from '../helpers/slurm-hub.js';
import { cancelJobs, jobLive, portReports } from '../helpers/slurm-jobs.js';
import type { SpawnerBackend } from './spawner-conformance.js';

const SYSTEM = 'daint';
const JOB_USER = 'alice';

/** The FirecREST back-end of the conformance suite (skipped with its reason when the Slurm cluster is not there). */
export function firecrestBackend(): SpawnerBackend {
  let op: TestOidcProvider | undefined;
  let standin: FirecrestStandin | undefined;
  let reports: Awaited<ReturnType<typeof portReports>> | undefined;
  let files: JobFiles | undefined;
  const tokens = oneLoginUserTokens(() => op, JOB_USER);
  const submitted = new Set<string>();
  const config = () => ({
    kind: 'firecrest',
    firecrest_url: standin?.url ?? 'http://127.0.0.1:9',
    system: SYSTEM,
    cmd: files ? [files.launcher, process.execPath, files.trivialServer] : ['true'],
    hub_connect_url: reports ? new URL(reports.url).origin : '',
    req_runtime: '00:10:00',
    startup_poll_interval: 0.2,
    request_timeout: 10,
  });
  const deps = () => ({ log: pino({ level: 'silent' }), name: 'default', now: Date.now, fetch: globalThis.fetch, dataDir: os.tmpdir(), userTokens: tokens });
  return {
    name: `firecrest (stand-in over the local Slurm, jobs as ${JOB_USER})`,
    unavailable: async () => {
      const cluster = await ensureSlurmCluster();
      if ('unavailable' in cluster) return cluster.unavailable;
      files = await jobFiles(cluster);
      reports = await portReports();
      op = await startOidcProvider({ redirectUris: [TOKEN_LOGIN_REDIRECT], jwtAccessTokens: { audience: 'firecrest' } });
      standin = await startFirecrestStandin({ issuer: op.issuer, jwksUri: op.jwksUri, systems: { [SYSTEM]: {} } });
      return undefined;
    },
    create: (): Spawner => {
      const inner = createSpawner(validateConfig({ spawner: config() }).spawner, deps());
      return {
        kind: inner.kind,
        resumable: true,
        start: (req) => {
          const token = req.env['JUPYTERHUB_API_TOKEN'] ?? '';
          const saveState = async (state: SpawnerState) => {
            if (typeof state['job_id'] === 'string') submitted.add(state['job_id']);
            await req.saveState(state);
          };
          return inner.start({ ...req, saveState, reportedPort: async () => reports?.portOf(token) });
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
      for (const id of submitted) rmSync(`/home/${JOB_USER}/jupyterhub-firecrest-${id}.log`, { force: true });
      const problems = [...(standin?.violations ?? []), ...(standin?.clientMistakes ?? [])];
      await standin?.close();
      await op?.stop();
      await reports?.close();
      files?.remove();
      if (problems.length > 0) throw new Error(`the FirecREST stand-in saw requests or answers off the spec:\n${problems.join('\n')}`);
    },
  };
}
