/**
 * What the FirecREST failure tests (test/e2e/firecrest-failures.test.ts) add
 * to the shared deployment of firecrest-hub.ts: a job script that submits
 * the job held (the test decides when it runs), the server's API token read
 * back from a submitted script, the stored tokens of a user, and a hub
 * restarted on the same data dir, proxy and port.
 */
import assert from 'node:assert/strict';
import { DEFAULT_FIRECREST_SCRIPT } from '../../src/spawners/firecrest/firecrest-script.js';
import { getUser } from '../../src/db/repos/users.js';
import type { FirecrestHub } from './firecrest-hub.js';
import { startTestHub, type TestHub } from './hub.js';
import { runAsRoot } from './slurm-cluster.js';
import { capturedLog } from './slurm-hub.js';

/** The built-in job script with `#SBATCH --hold`: the job waits, PENDING, until {@link releaseJob}. */
export const HELD_SCRIPT = DEFAULT_FIRECREST_SCRIPT.replace('#!/bin/bash\n', '#!/bin/bash\n#SBATCH --hold\n');

/** Releases a held job (as root). */
export async function releaseJob(id: string): Promise<void> {
  assert.match(id, /^\d+$/);
  const r = await runAsRoot(`scontrol release ${id}`);
  assert.equal(r.code, 0, `scontrol release ${id}: ${r.stderr}`);
}

/** The JUPYTERHUB_API_TOKEN a submitted script carries (base64-encoded in the script). */
export function serverTokenOf(script: string): string {
  const m = /JUPYTERHUB_API_TOKEN="\$\(printf '%s' '([A-Za-z0-9+/=]+)'/.exec(script);
  assert.ok(m, 'the submitted script carries the server token');
  return Buffer.from(m[1]!, 'base64').toString('utf8');
}

/** The access token in `user`'s stored auth state, and its expiry (Unix seconds). */
export async function storedAccess(t: TestHub, user: string): Promise<{ token: string; expiresAt: number }> {
  const row = await getUser(t.hub.db, user);
  const state = t.hub.crypt.decrypt(row!.auth_state!) as Record<string, unknown>;
  return { token: String(state['access_token']), expiresAt: Number(state['expires_at']) };
}

/** A hub started again after {@link restartHub}, with its own log. */
export interface RestartedHub {
  t: TestHub;
  log: ReturnType<typeof capturedLog>;
}

/**
 * Leaves `d`'s hub as a killed hub process would (servers, proxy, database
 * stay; spawns in flight abandoned) and starts a new hub with the same
 * config on the same data dir, proxy and port, re-attaching to the servers
 * as `serve` does. Stop the new hub before `d.stop()`.
 */
export async function restartHub(d: FirecrestHub): Promise<RestartedHub> {
  const old = d.hub;
  const config = structuredClone(old.hub.config) as unknown as Record<string, unknown>;
  await old.detach();
  const log = capturedLog();
  const t = await startTestHub(config, { dataDir: old.dataDir, proxyServer: old.proxyServer, hubPort: old.hubPort, reattach: true, log: log.log });
  return { t, log };
}
