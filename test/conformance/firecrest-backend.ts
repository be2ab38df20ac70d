/**
 * The FirecREST spawner as a back-end of the spawner conformance suite: built
 * with `createSpawner` from a validated `kind: firecrest` config, talking to
 * the FirecREST stand-in (test/helpers/firecrest-standin.ts) over the real
 * local Slurm, with real JWT access tokens of the real oidc-provider. The job
 * runs copies of bin/ganymede-singleuser and the trivial server as alice; the
 * launcher reports its port to a callback server of the test, reached through
 * `hub_connect_url`, which stands in for the hub's port report route behind
 * `req.reportedPort()`. `kill` is `scancel` as root.
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import * as oidc from 'openid-client';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { Spawner, SpawnerState, UserAccessToken, UserTokens } from '../../src/spawners/spawner.js';
import { startFirecrestStandin, type FirecrestStandin } from '../helpers/firecrest-standin.js';
import { startOidcProvider, type TestOidcProvider } from '../helpers/oidc-provider.js';
import { ensureSlurmCluster } from '../helpers/slurm-cluster.js';
import { jobFiles, type JobFiles } from '../helpers/slurm-hub.js';
import { cancelJobs, jobLive, portReports } from '../helpers/slurm-jobs.js';
import type { SpawnerBackend } from './spawner-conformance.js';

/** The redirect URI of the test's login client (never opened: the code is taken from it). */
const REDIRECT = 'http://127.0.0.1:9/callback';
const SYSTEM = 'daint';
const JOB_USER = 'alice';

/** Logs `login` in at the provider (code grant with PKCE, the provider playing the browser) and returns its JWT access token. */
export async function loginAccessToken(op: TestOidcProvider, login: string, redirectUri = REDIRECT): Promise<{ token: string; expiresAt?: number }> {
  const config = await oidc.discovery(new URL(op.issuer), op.clientId, op.clientSecret, oidc.ClientSecretPost(op.clientSecret), {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'conformance',
  });
  const callback = await op.authorize(url.href, login);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: 'conformance' });
  const expiresIn = tokens.expiresIn();
  return { token: tokens.access_token, ...(expiresIn === undefined ? {} : { expiresAt: Date.now() + expiresIn * 1000 }) };
}

/**
 * The UserTokens of the test: every hub user (the suite names them
 * `conformanceN`) gets alice's access token, obtained once by a login at the
 * provider and again when asked to refresh or when it is about to expire.
 */
function aliceTokens(op: () => TestOidcProvider | undefined): UserTokens {
  let current: Promise<{ token: string; expiresAt?: number }> | undefined;
  return {
    async accessToken(_user, opts): Promise<UserAccessToken> {
      const provider = op();
      if (!provider) return { loginAgain: 'The test provider is not running.' };
      try {
        const held = current ? await current : undefined;
        if (opts.refresh || !held || (held.expiresAt !== undefined && held.expiresAt - Date.now() < 60_000)) current = loginAccessToken(provider, JOB_USER);
        return await current!;
      } catch (err) {
        current = undefined;
        return { loginAgain: `The test login failed: ${(err as Error).message}` };
      }
    },
  };
}

/** The FirecREST back-end of the conformance suite (skipped with its reason when the Slurm cluster is not there). */
export function firecrestBackend(): SpawnerBackend {
  let op: TestOidcProvider | undefined;
  let standin: FirecrestStandin | undefined;
  let reports: Awaited<ReturnType<typeof portReports>> | undefined;
  let files: JobFiles | undefined;
  const tokens = aliceTokens(() => op);
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
      op = await startOidcProvider({ redirectUris: [REDIRECT], jwtAccessTokens: { audience: 'firecrest' } });
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
