/**
 * The set-up of the FirecREST failure tests (test/e2e/firecrest-failures.test.ts):
 * the real OpenID provider with JWT access tokens and a service client, the
 * FirecREST stand-in over the real local Slurm, and real hubs on one port
 * (the provider knows one callback) logging users in through OIDC, their
 * back-ends of `kind: firecrest` running the repo's launcher and the trivial
 * server. Also: a batch script that submits the job held (so a test decides
 * when it runs), the server's API token read back from a submitted script,
 * and a scan of the hub's log for tokens.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { freePort } from '../../src/spawners/local-process.js';
import { DEFAULT_FIRECREST_SCRIPT } from '../../src/spawners/firecrest/firecrest-script.js';
import { getUser } from '../../src/db/repos/users.js';
import { Browser } from './browser.js';
import { startFirecrestStandin, type FirecrestStandin } from './firecrest-standin.js';
import { startOidcProvider, type TestOidcProvider } from './oidc-provider.js';
import { runAsRoot, type SlurmCluster } from './slurm-cluster.js';
import { capturedLog, jobFiles, type JobFiles } from './slurm-hub.js';
import { startTestHub, type TestHub, type TestHubOptions } from './hub.js';

/** The service account's client (client-credentials grant) the hub polls with when a user's login expired. */
export const SERVICE = { clientId: 'ganymede-poller', clientSecret: 'poller-secret-0123456789abcdef' };

/** The FirecREST system the stand-in serves. */
export const SYSTEM = 'daint';

/** Seconds a user access token lives: the hub refreshes below 60 s left, so a token "expires" for the hub 5 s after it is issued. */
export const ACCESS_TTL = 65;

/** The built-in job script with `#SBATCH --hold`: the job waits, PENDING, until the test releases it. */
export const HELD_SCRIPT = DEFAULT_FIRECREST_SCRIPT.replace('#!/bin/bash\n', '#!/bin/bash\n#SBATCH --hold\n');

/** A hub of the rig, with its captured log. */
export interface RigHub {
  t: TestHub;
  logText(): string;
  records(): Array<Record<string, unknown>>;
}

/** The parts every failure test shares. */
export interface FaultRig {
  op: TestOidcProvider;
  standin: FirecrestStandin;
  files: JobFiles;
  hubPort: number;
  hubBase: string;
  /** A `kind: firecrest` back-end on the stand-in (service account included unless `extra.service_account` is null). */
  backend(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Starts a hub on `hubPort` with OIDC login and `spawners`; `opts` as startTestHub's (dataDir, proxyServer, reattach for a restart). */
  hub(spawners: Record<string, Record<string, unknown>>, raw?: Record<string, unknown>, opts?: TestHubOptions): Promise<RigHub>;
  /** Every job id the stand-in submitted. */
  jobIds(): string[];
  /** Cancels every submitted job (as root), removes their logs, stops the stand-in and provider. */
  close(): Promise<void>;
}

/** Starts the provider and the stand-in; the hub port is picked now (the provider registers its callback). */
export async function startFaultRig(cluster: SlurmCluster): Promise<FaultRig> {
  const files = await jobFiles(cluster);
  const hubPort = await freePort('127.0.0.1');
  const hubBase = `http://127.0.0.1:${hubPort}`;
  const op = await startOidcProvider({
    redirectUris: [`${hubBase}/hub/oauth_callback`],
    jwtAccessTokens: { audience: 'firecrest' },
    serviceClients: [SERVICE],
    accessTokenTtl: ACCESS_TTL,
  });
  const standin = await startFirecrestStandin({ issuer: op.issuer, jwksUri: op.jwksUri, systems: { [SYSTEM]: {} }, serviceAccounts: [SERVICE.clientId] });
  const jobIds = () => standin.submitted.flatMap((s) => (s.jobId === undefined ? [] : [s.jobId]));
  return {
    op,
    standin,
    files,
    hubPort,
    hubBase,
    jobIds,
    backend(extra = {}) {
      const { service_account: sa, ...rest } = extra;
      return {
        kind: 'firecrest',
        firecrest_url: standin.url,
        system: SYSTEM,
        cmd: [files.launcher, process.execPath, files.trivialServer],
        req_runtime: '00:10:00',
        startup_poll_interval: 0.3,
        request_timeout: 2,
        request_retries: 1,
        cancel_wait_timeout: 10,
        ...(sa === null ? {} : { service_account: { client_id: SERVICE.clientId, client_secret: SERVICE.clientSecret, token_url: op.tokenUrl } }),
        ...rest,
      };
    },
    async hub(spawners, raw = {}, opts = {}) {
      const captured = capturedLog();
      const t = await startTestHub(
        {
          start_timeout: 90,
          slow_spawn_timeout: 2,
          poll_interval: 0,
          auth: {
            kind: 'oidc',
            issuer: op.issuer,
            client_id: op.clientId,
            client_secret: op.clientSecret,
            allow_insecure_http: true,
            enable_auth_state: true,
            userdata_from_id_token: true,
            auth_refresh_age: 0,
            login_rate_limit: { attempts: 0 },
          },
          spawners,
          ...raw,
        },
        { hubPort, log: captured.log, ...opts },
      );
      return { t, logText: captured.text, records: captured.records };
    },
    async close() {
      const ids = jobIds().filter((id) => /^\d+$/.test(id));
      if (ids.length > 0) await runAsRoot(`scancel ${ids.join(' ')}`).catch(() => undefined);
      for (const user of new Set(standin.submitted.map((s) => s.user))) {
        for (const id of ids) rmSync(`/home/${user}/jupyterhub-firecrest-${id}.log`, { force: true });
      }
      await standin.close();
      await op.stop();
      files.remove();
    },
  };
}

/** Logs `user` in through the hub's OIDC login at the real provider; the browser holds the session. */
export async function oidcLogin(rig: FaultRig, user: string): Promise<Browser> {
  const b = new Browser(rig.hubBase);
  const start = await b.get('/hub/oauth_login');
  assert.equal(start.status, 302, `oauth_login: ${start.status}`);
  const back = await b.get(await rig.op.authorize(start.headers.get('location')!, user));
  assert.equal(back.status, 302, `oauth_callback: ${back.status} ${await back.text()}`);
  return b;
}

/** The access and refresh tokens and the access token's expiry (Unix s) in `user`'s stored auth state. */
export async function storedAccess(t: TestHub, user: string): Promise<{ token: string; refreshToken: string; expiresAt: number }> {
  const row = await getUser(t.hub.db, user);
  const state = t.hub.crypt.decrypt(row!.auth_state!) as Record<string, unknown>;
  return { token: String(state['access_token']), refreshToken: String(state['refresh_token'] ?? ''), expiresAt: Number(state['expires_at']) };
}

/** The JUPYTERHUB_API_TOKEN a submitted script carries (base64 in the script). */
export function serverTokenOf(script: string): string {
  const m = /JUPYTERHUB_API_TOKEN="\$\(printf '%s' '([A-Za-z0-9+/=]+)'/.exec(script);
  assert.ok(m, 'the submitted script carries the server token');
  return Buffer.from(m[1]!, 'base64').toString('utf8');
}

/** Releases a held job (as root). */
export async function releaseJob(id: string): Promise<void> {
  const r = await runAsRoot(`scontrol release ${id}`);
  assert.equal(r.code, 0, `scontrol release ${id}: ${r.stderr}`);
}

/**
 * Fails when the hub's log holds a JWT (any `eyJ….eyJ…`) or one of `secrets`
 * (access, refresh and server tokens the test knows).
 */
export function assertNoTokenInLog(text: string, secrets: string[]): void {
  assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}/, 'no JWT in the hub log');
  for (const s of secrets) if (s.length >= 8) assert.ok(!text.includes(s), `a known token (${s.slice(0, 4)}…) is in the hub log`);
}
