/**
 * The real hub driving the real Slurm of the test environment over SSH
 * (slurm-cluster.ts): a hub whose log the test reads, the job's files where
 * the job users can read them, and what a test of a spawn needs to look at:
 * the progress event stream, the spawn-pending page, the jobs the hub
 * submitted, a good spawn through the proxy.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/lib/log.js';
import { Browser, login, progressFromStream, type ProgressEvent } from './e2e.js';
import { startTestHub, type TestHub } from './hub.js';
import { jobFiles as copiedJobFiles } from './slurm-hub.js';
import { runAsRoot, squeueJob, type SlurmCluster } from './slurm-cluster.js';

/** The shared password of test hubs (testHubConfig). */
export const TEST_PASSWORD = 'test-password';


/** The launcher and the trivial server copied into a directory every job user can read. */
export interface JobFiles {
  dir: string;
  /** The job's `cmd`: bin/ganymede-singleuser, then node running the trivial server. */
  cmd: string[];
  remove(): void;
}

/** The launcher and the trivial server copied where the job users can use them (test/helpers/slurm-hub.ts), as a job's `cmd`. */
export async function jobFiles(c: SlurmCluster): Promise<JobFiles> {
  const files = await copiedJobFiles(c);
  return { dir: files.dir, cmd: [files.launcher, process.execPath, files.trivialServer], remove: files.remove };
}

/** A hub with its log lines (JSON, level debug) kept for the test. */
export interface LoggedHub {
  hub: TestHub;
  lines: string[];
  /** The parsed log records whose `msg` is `msg` (all when undefined). */
  records(msg?: string): Array<Record<string, unknown>>;
  /** Every job id the hub submitted (its "submitted batch job" log lines). */
  jobIds(): string[];
}

/** Starts the real hub (real proxy) with `raw` config, logging into lines the test reads. */
export async function startLoggedHub(raw: Record<string, unknown>): Promise<LoggedHub> {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const hub = await startTestHub(raw, { log: createLogger('debug', { format: 'json', destination }) });
  const records = (msg?: string) =>
    lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => msg === undefined || r['msg'] === msg);
  return { hub, lines, records, jobIds: () => records('submitted batch job').map((r) => String(r['jobId'])) };
}

/** The `ssh:` options reaching the environment's login host as the service account. */
export function sshOptions(c: SlurmCluster, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: c.sshHost, port: c.sshPort, user: c.sshUser, key_file: c.keyFile, known_hosts: c.knownHostsFile, connect_timeout: 5, ...over };
}

/** Reads `GET /hub/api/users/<user>/server/progress` (SSE, token auth) until `ready` or `failed`, or the end of the stream. */
export async function progressEvents(hub: TestHub, user: string, token: string, timeoutMs: number): Promise<ProgressEvent[]> {
  const res = await fetch(`${hub.publicUrl}/hub/api/users/${user}/server/progress`, {
    headers: { Accept: 'text/event-stream', Authorization: `token ${token}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  assert.equal(res.status, 200, `progress stream: ${res.status}`);
  assert.ok(res.body);
  return progressFromStream(res);
}

/** A browser logged in as `user` through the proxy's public port. */
export async function loggedIn(hub: TestHub, user: string): Promise<Browser> {
  const browser = new Browser(hub.publicUrl);
  await login(browser, user, TEST_PASSWORD);
  return browser;
}

/** The text of the spawn-pending page of `user`'s default server (HTML entities of quotes decoded). */
export async function pendingPage(browser: Browser, user: string): Promise<{ status: number; text: string }> {
  const page = await browser.navigate(`/hub/spawn-pending/${user}`);
  return { status: page.status, text: page.text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') };
}

/** Whether Slurm still holds the job as live (root's view, finished ones excluded). */
export async function jobLive(id: string): Promise<boolean> {
  const j = await squeueJob(id);
  return j !== null && /^(PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED|REQUEUE_HOLD|RESIZING)/.test(j.state);
}

/** Waits (at most `ms`) until none of `ids` is live; the ids still live at the end. */
export async function jobsStillLive(ids: string[], ms = 10_000): Promise<string[]> {
  const end = Date.now() + ms;
  for (;;) {
    const live: string[] = [];
    for (const id of ids) if (await jobLive(id)) live.push(id);
    if (live.length === 0 || Date.now() > end) return live;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Cancels jobs as root and removes the logs the default script left in `home`; errors forgotten (clean-up). */
export async function cancelAndForget(ids: string[], homes: string[]): Promise<void> {
  const valid = ids.filter((id) => /^\d+$/.test(id));
  if (valid.length > 0) await runAsRoot(`scancel ${valid.join(' ')}`).catch(() => undefined);
  for (const home of homes) for (const id of valid) rmSync(path.join(home, `jupyterhub_slurmspawner_${id}.log`), { force: true });
}

/**
 * The checks every failure scenario ends with: the hub answers its API, and
 * a good spawn of `user` (no options beyond `options`) becomes ready, answers
 * through the proxy as that user, and stops with its job gone.
 */
export async function goodSpawnWorks(h: LoggedHub, user: string, token: string, options: Record<string, unknown> = {}): Promise<void> {
  const { hub } = h;
  const alive = await hub.api('GET', '/', { token });
  assert.equal(alive.status, 200, `GET /hub/api/ after the failure: ${alive.status}`);
  const before = new Set(h.jobIds());
  const started = await hub.api('POST', `/users/${user}/server`, { token, body: options });
  assert.ok(started.status === 201 || started.status === 202, `good spawn: ${started.status} ${started.text}`);
  const events = await progressEvents(hub, user, token, 150_000);
  const last = events.at(-1);
  assert.ok(last?.ready, `the good spawn of ${user} became ready: ${JSON.stringify(events)}`);
  const res = await fetch(`${hub.publicUrl}/user/${user}/api`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(body['user'], user, 'the server answers through the proxy as the user');
  const jobs = h.jobIds().filter((id) => !before.has(id));
  assert.equal(jobs.length, 1, `one new job for the good spawn: ${jobs.join(', ')}`);
  const stopped = await hub.api('DELETE', `/users/${user}/server`, { token });
  assert.ok(stopped.status === 204 || stopped.status === 202, `stop: ${stopped.status} ${stopped.text}`);
  for (let i = 0; i < 100; i++) {
    const model = await hub.api('GET', `/users/${user}`, { token });
    const servers = (model.body as { servers?: Record<string, unknown> }).servers ?? {};
    if (!servers['']) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.deepEqual(await jobsStillLive(jobs), [], 'the good spawn\'s job is gone after stop');
}
