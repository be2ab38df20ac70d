import path from 'node:path';
import type { Hub } from '../hub/context.js';
import type { CheckedService } from '../hub/services-loader.js';
import { createServiceToken, getService } from '../db/repos/services.js';
import { sha256 } from '../lib/crypto.js';
import { DEFAULT_TIMINGS, ManagedService, type ManagedTimings } from './managed-service.js';
import { servicePrefix } from './service-routes.js';
import { stopLeftover } from './service-pid-file.js';

/** Variables of the hub's own environment a managed service keeps (as JupyterHub's spawners' `env_keep`); no secret of the hub's. */
const ENV_KEEP = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'PYTHONPATH', 'VIRTUAL_ENV', 'CONDA_ROOT', 'CONDA_DEFAULT_ENV'];

interface Running {
  service: ManagedService;
  /** What it was started with (command, environment, cwd, token hash): a change restarts it. */
  fingerprint: string;
  /** The token generated for it (no `api_token` in config), reused while it runs. */
  generated?: { token: string; id: number };
}

/** The environment of a managed service (JupyterHub's names; they win over `environment:`). */
export function managedServiceEnv(hub: Pick<Hub, 'urls'>, s: Pick<CheckedService, 'name' | 'url' | 'environment'>, token: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ENV_KEEP) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, s.environment);
  env['JUPYTERHUB_SERVICE_NAME'] = s.name;
  env['JUPYTERHUB_API_TOKEN'] = token;
  env['JUPYTERHUB_API_URL'] = hub.urls.api;
  env['JUPYTERHUB_BASE_URL'] = hub.urls.base;
  if (s.url) {
    env['JUPYTERHUB_SERVICE_URL'] = s.url;
    env['JUPYTERHUB_SERVICE_PREFIX'] = servicePrefix(hub.urls, s.name);
  }
  return env;
}

/**
 * The services this hub process runs (`services[].command`), by name. `sync`
 * brings them in line with a services list: new ones started, removed ones
 * stopped, changed ones (command, environment, cwd, url, token) restarted,
 * unchanged ones left running. A service without `api_token` gets a token
 * generated here, stored hashed (kind `managed`) and handed over in its
 * environment only.
 */
export class ManagedServices {
  private readonly running = new Map<string, Running>();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  timings: ManagedTimings = DEFAULT_TIMINGS;

  /** Runs `fn` after every earlier one has settled: two applies (a reload during start-up) never interleave. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The pid of a managed service's process, or 0. */
  pidOf(name: string): number {
    return this.running.get(name)?.service.pid ?? 0;
  }

  /** The command a managed service runs, or [] for a service the hub does not run. */
  commandOf(name: string): string[] {
    return [...(this.running.get(name)?.service.spec.command ?? [])];
  }

  /** The ManagedService of `name` (tests). */
  get(name: string): ManagedService | undefined {
    return this.running.get(name)?.service;
  }

  async sync(hub: Hub, services: readonly CheckedService[]): Promise<void> {
    if (this.closed) return; // the hub is stopping: start nothing more
    const wanted = new Map(services.filter((s) => s.command.length).map((s) => [s.name, s]));
    for (const [name, r] of [...this.running]) {
      if (wanted.has(name)) continue;
      this.running.delete(name);
      await r.service.stop();
      await this.dropToken(hub, r);
    }
    for (const s of wanted.values()) {
      const current = this.running.get(s.name);
      const generated = s.token === undefined ? (current?.generated ?? (await this.generateToken(hub, s.name))) : undefined;
      const token = s.token ?? generated!.token;
      const env = managedServiceEnv(hub, s, token);
      const cwd = s.cwd === undefined ? undefined : path.resolve(s.cwd);
      const fingerprint = JSON.stringify({ command: s.command, env: { ...env, JUPYTERHUB_API_TOKEN: sha256(token) }, cwd });
      if (current && current.fingerprint === fingerprint) continue;
      if (current) {
        hub.log.info({ service: s.name }, 'managed service changed in the configuration; restarting it');
        await current.service.stop();
        if (current.generated && current.generated !== generated) await this.dropToken(hub, current);
      }
      const dir = path.join(hub.dataDir, 'services');
      const pidFile = path.join(dir, `${s.name}.pid`);
      if (!current) await stopLeftover(pidFile, s.name, this.timings.stopTimeoutMs, hub.log);
      const service = new ManagedService({ name: s.name, command: s.command, env, cwd, logFile: path.join(dir, `${s.name}.log`), pidFile }, hub.log, this.timings);
      if (this.closed) return;
      this.running.set(s.name, { service, fingerprint, ...(generated ? { generated } : {}) });
      service.start();
    }
  }

  /** Stops every managed service (at hub stop), in parallel, each bounded by its stop timeout. */
  async stopAll(): Promise<void> {
    this.closed = true;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => r.service.stop()));
  }

  /** A fresh token for a managed service; tokens generated by an earlier hub process for it are removed. */
  private async generateToken(hub: Hub, name: string): Promise<{ token: string; id: number }> {
    const row = await getService(hub.db, name);
    if (!row) throw new Error(`managed service ${name} is not stored`);
    await hub.db.deleteFrom('service_tokens').where('service_id', '=', row.id).where('kind', '=', 'managed').execute();
    const { token, row: tokenRow } = await createServiceToken(hub.db, row.id, { kind: 'managed', scopes: ['inherit'], note: 'generated for the managed service' });
    return { token, id: tokenRow.id };
  }

  private async dropToken(hub: Hub, r: Running): Promise<void> {
    if (r.generated) await hub.db.deleteFrom('service_tokens').where('id', '=', r.generated.id).execute();
  }
}
