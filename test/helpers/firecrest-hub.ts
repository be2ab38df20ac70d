/**
 * The FirecREST deployment for end-to-end tests, all real but FirecREST:
 * the real OpenID provider (JWT access tokens for FirecREST, a client-
 * credentials service client), the FirecREST stand-in over the real local
 * Slurm, and a real hub (in-process, real proxy) logging users in through
 * the provider (`auth.kind: oidc`, auth state kept, claims from the ID token)
 * with one `kind: firecrest` back-end per stand-in system. Jobs run the
 * repo's launcher and the trivial server (copies the job users can read).
 *
 * ```ts
 * const d = await startFirecrestHub(cluster, { backends: { daint: { req_runtime: '00:10:00' } } });
 * try {
 *   const browser = await d.login('alice');            // a browser with alice's hub cookie (through the proxy)
 *   ... d.standin.requests, d.provider.requests, d.hub.api(...) ...
 *   d.assertClean();                                   // stand-in: no violations, no client mistakes; no secret in the hub log
 * } finally {
 *   await d.stop();                                    // hub, jobs of d.jobs and of d.standin.submitted, stand-in, provider, files
 * }
 * ```
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { freePort } from '../../src/lib/free-port.js';
import { getUser } from '../../src/db/repos/users.js';
import { decryptAuthState } from '../../src/auth/auth-state.js';
import { Browser } from './e2e.js';
import { startTestHub, type TestHub } from './hub.js';
import { startOidcProvider, type TestOidcProvider } from './oidc-provider.js';
import { startFirecrestStandin, type FirecrestStandin, type StandinSystem } from './firecrest-standin.js';
import { runAsRoot, type SlurmCluster } from './slurm-cluster.js';
import { capturedLog, jobFiles, type JobFiles } from './slurm-hub.js';

/** The service client of the provider, which the stand-in lets read every user's jobs. */
export const FIRECREST_SERVICE_CLIENT = { clientId: 'firecrest-hub-service', clientSecret: 'firecrest-hub-service-secret-0123456789' };

/** The default systems: `daint` (alice has `proj1`, default, and `proj2`; bob has `bobproj`) and `eiger` (partitions normal, debug). */
export const DEFAULT_FIRECREST_SYSTEMS: Record<string, StandinSystem> = {
  daint: { accounts: { alice: [{ name: 'proj1', default: true }, { name: 'proj2' }], bob: [{ name: 'bobproj', default: true }] } },
  eiger: { partitions: ['normal', 'debug'] },
};

export interface FirecrestHubOptions {
  /** The stand-in's systems; each becomes a back-end of the same name (default {@link DEFAULT_FIRECREST_SYSTEMS}). */
  systems?: Record<string, StandinSystem>;
  /** Options merged over a back-end's (by system name), e.g. `{daint: {batch_script: '…'}}`. */
  backends?: Record<string, Record<string, unknown>>;
  /** Top-level hub config merged over the defaults (e.g. `allow_named_servers`, `start_timeout`); `spawners` comes from `systems` and `backends`. */
  hubConfig?: Record<string, unknown>;
  /** Options merged over `auth` (e.g. `refresh_pre_spawn`). */
  auth?: Record<string, unknown>;
  /** The provider's access-token lifetime in seconds (default 3600). The hub refreshes a token with < 60 s left before each use. */
  accessTokenTtl?: number;
  /** Configure `service_account` on every back-end (default true). */
  serviceAccount?: boolean;
}

export interface FirecrestHub {
  provider: TestOidcProvider;
  standin: FirecrestStandin;
  hub: TestHub;
  files: JobFiles;
  /** The hub's log (level debug). */
  log: ReturnType<typeof capturedLog>;
  /** Job ids the test started itself (cancelled by `stop`, with every job the stand-in submitted). */
  jobs: Set<string>;
  /**
   * Every access, refresh and ID token seen in the users' auth states (sampled
   * every 200 ms while the hub runs), plus what the test adds (e.g. a server's
   * API token): `assertClean` checks none is in the hub log.
   */
  secrets: Set<string>;
  /**
   * Logs `user` in through the proxy as a browser does (oauth_login, the
   * provider's login form, the callback); resolves the browser (base: the
   * proxy's public URL) holding the hub's login cookie.
   */
  login(user: string): Promise<Browser>;
  /** Reads the users' auth states now, adding their tokens to `secrets`. */
  sampleSecrets(): Promise<void>;
  /**
   * Asserts the stand-in recorded no spec violation and no client mistake,
   * and that the hub log holds no secret of `secrets` (nor `extra`) and no JWT.
   */
  assertClean(extra?: string[]): Promise<void>;
  /** Stops the hub (and its servers), cancels the jobs, stops the stand-in and the provider, removes the job files. */
  stop(): Promise<void>;
}

/** A JWT (access or ID token) as it would appear in a log line. */
const JWT = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

/**
 * Starts the provider, the stand-in and the hub (see the file's TSDoc).
 * Each back-end: `firecrest_url` = the stand-in, `system` = its name,
 * `cmd` = launcher + node + trivial server, `hub_connect_url` = the hub on
 * 127.0.0.1, `node_name_template` `{}` (the test node's name resolves to
 * 127.0.0.1), `startup_poll_interval` 0.3 s, and the service account.
 * Sets GANYMEDE_CRYPT_KEY (auth state) until `stop`.
 */
export async function startFirecrestHub(c: SlurmCluster, opts: FirecrestHubOptions = {}): Promise<FirecrestHub> {
  const systems = opts.systems ?? DEFAULT_FIRECREST_SYSTEMS;
  const savedKey = process.env['GANYMEDE_CRYPT_KEY'];
  process.env['GANYMEDE_CRYPT_KEY'] = randomBytes(32).toString('hex');
  const cleanups: (() => Promise<void>)[] = [];
  const jobs = new Set<string>();
  const secrets = new Set<string>();
  const log = capturedLog();
  let sampler: NodeJS.Timeout | undefined;
  let standin: FirecrestStandin | undefined;

  const stop = async (): Promise<void> => {
    if (sampler) clearInterval(sampler);
    for (const f of cleanups.reverse()) await f().catch(() => undefined);
    cleanups.length = 0;
    if (savedKey === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
    else process.env['GANYMEDE_CRYPT_KEY'] = savedKey;
  };

  try {
    const hubPort = await freePort('127.0.0.1');
    const provider = await startOidcProvider({
      redirectUris: [`http://127.0.0.1:${hubPort}/hub/oauth_callback`],
      jwtAccessTokens: { audience: 'firecrest' },
      serviceClients: [FIRECREST_SERVICE_CLIENT],
      ...(opts.accessTokenTtl === undefined ? {} : { accessTokenTtl: opts.accessTokenTtl }),
    });
    cleanups.push(() => provider.stop());
    standin = await startFirecrestStandin({ issuer: provider.issuer, jwksUri: provider.jwksUri, systems, serviceAccounts: [FIRECREST_SERVICE_CLIENT.clientId] });
    const s = standin;
    cleanups.push(() => s.close());
    const files = await jobFiles(c);
    cleanups.push(() => Promise.resolve(files.remove()));
    // every job: those the test names, and every one the stand-in submitted; and their logs
    cleanups.push(async () => {
      const ids = new Set([...jobs, ...s.submitted.flatMap((x) => (x.jobId ? [x.jobId] : []))]);
      const logs = s.submitted.flatMap((x) => (x.jobId && typeof x.job['standardOutput'] === 'string' ? [x.job['standardOutput'].replaceAll('%j', x.jobId)] : []));
      if (ids.size) await runAsRoot(`scancel ${[...ids].join(' ')}`).catch(() => undefined);
      for (const f of logs) if (/^\/home\/[a-z]+\/jupyterhub-firecrest-\d+\.log$/.test(f)) rmSync(f, { force: true });
    });

    const backends: Record<string, Record<string, unknown>> = {};
    for (const name of Object.keys(systems)) {
      backends[name] = {
        kind: 'firecrest',
        firecrest_url: s.url,
        system: name,
        cmd: [files.launcher, process.execPath, files.trivialServer],
        hub_connect_url: `http://${c.hubReachableAddress}:${hubPort}`,
        node_name_template: '{}',
        startup_poll_interval: 0.3,
        cancel_wait_timeout: 20,
        request_timeout: 15,
        req_runtime: '00:15:00',
        ...(opts.serviceAccount === false
          ? {}
          : { service_account: { client_id: FIRECREST_SERVICE_CLIENT.clientId, client_secret: FIRECREST_SERVICE_CLIENT.clientSecret, token_url: provider.tokenUrl } }),
        ...opts.backends?.[name],
      };
    }
    const hub = await startTestHub(
      {
        auth: {
          kind: 'oidc',
          login_rate_limit: { attempts: 0 },
          issuer: provider.issuer,
          client_id: provider.clientId,
          client_secret: provider.clientSecret,
          allow_insecure_http: true,
          enable_auth_state: true,
          userdata_from_id_token: true,
          scope: ['openid', 'profile'],
          ...opts.auth,
        },
        start_timeout: 120,
        slow_spawn_timeout: 1,
        ...opts.hubConfig,
        spawners: backends,
      },
      { hubPort, log: log.log },
    );
    cleanups.push(() => hub.stop());
    // the browser comes back through the proxy
    await provider.addRedirectUris([`${hub.publicUrl}/hub/oauth_callback`]);

    const sampleSecrets = async (): Promise<void> => {
      const rows = await hub.hub.db.selectFrom('users').select(['name', 'auth_state']).execute();
      for (const r of rows) {
        const state = decryptAuthState(hub.hub.crypt, r.auth_state, log.log);
        for (const k of ['access_token', 'refresh_token', 'id_token']) {
          const v = state?.[k];
          if (typeof v === 'string' && v.length >= 16) secrets.add(v);
        }
      }
    };
    sampler = setInterval(() => void sampleSecrets().catch(() => undefined), 200);

    const d: FirecrestHub = {
      provider,
      standin: s,
      hub,
      files,
      log,
      jobs,
      secrets,
      async login(user) {
        const b = new Browser(hub.publicUrl);
        const start = await b.request('/hub/oauth_login');
        await start.body?.cancel();
        assert.equal(start.status, 302, `GET /hub/oauth_login: ${start.status}`);
        const callback = await provider.authorize(start.headers.get('location')!, user);
        const res = await b.request(callback);
        const text = await res.text();
        assert.equal(res.status, 302, `the OIDC callback for ${user}: ${res.status} ${text.slice(0, 500)}`);
        assert.equal(await getUser(hub.hub.db, user).then((u) => u?.name), user);
        await sampleSecrets();
        return b;
      },
      sampleSecrets,
      async assertClean(extra = []) {
        await sampleSecrets();
        assert.deepEqual(s.violations, [], 'the stand-in answered against the spec');
        assert.deepEqual(s.clientMistakes, [], 'the hub sent FirecREST requests the spec refuses');
        const text = log.text();
        const leaked = [...secrets, ...extra].filter((x) => x && text.includes(x));
        assert.equal(leaked.length, 0, `${leaked.length} secret(s) in the hub log`);
        assert.doesNotMatch(text, JWT, 'a JWT is in the hub log');
      },
      stop,
    };
    return d;
  } catch (err) {
    await stop();
    throw err;
  }
}
