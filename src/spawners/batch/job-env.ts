/**
 * The environment a batch job's server gets (pure): the hub's server
 * environment without what describes the hub's own machine, with the hub's
 * API reached through `hub_connect_url` when the compute nodes need another
 * address.
 */

/**
 * Variables of the hub's machine that would be wrong in a job running as
 * another account on another machine: the job gets its own from its login
 * environment (Slurm's `--get-user-env`).
 */
export const NOT_FOR_JOBS = ['HOME', 'SHELL', 'USER', 'LOGNAME', 'PATH'];

/** The variables that hold a hub API URL. */
const HUB_URL_VARS = ['JUPYTERHUB_API_URL', 'JUPYTERHUB_ACTIVITY_URL'];

/**
 * `env` for a batch job: {@link NOT_FOR_JOBS} removed;
 * `JUPYTERHUB_API_URL` and `JUPYTERHUB_ACTIVITY_URL` moved to
 * `hubConnectUrl` (its scheme, host, port and path prefix, then their own
 * path) when it is set; `JUPYTERHUB_SERVICE_URL` set to
 * `http://0.0.0.0:0<prefix>` when absent (the launcher in the job replaces
 * the port with the one it picked, as batchspawner-singleuser does).
 *
 * @throws Error when `hubConnectUrl` is not an http(s) URL.
 */
export function batchJobEnv(env: Record<string, string>, hubConnectUrl: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (!NOT_FOR_JOBS.includes(k)) out[k] = v;
  if (hubConnectUrl) {
    const base = new URL(hubConnectUrl);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`hub_connect_url ${JSON.stringify(hubConnectUrl)} is not an http(s) URL`);
    const prefix = base.pathname.replace(/\/+$/, '');
    for (const key of HUB_URL_VARS) {
      const v = out[key];
      if (!v) continue;
      const u = new URL(v);
      out[key] = `${base.origin}${prefix}${u.pathname}${u.search}`;
    }
  }
  if (!out['JUPYTERHUB_SERVICE_URL']) out['JUPYTERHUB_SERVICE_URL'] = `http://0.0.0.0:0${out['JUPYTERHUB_SERVICE_PREFIX'] ?? '/'}`;
  return out;
}
