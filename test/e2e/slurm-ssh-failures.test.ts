/**
 * Issue 11, "Bad input", end to end: the real hub and proxy drive the real
 * Slurm over SSH (scripts/slurm-test-env: munge, slurmctld, slurmd, sshd;
 * the service account `jupyterspawner` runs `sudo -n -u bob`). Each way a
 * spawn can fail before a job runs (a host key that does not match, an
 * unreachable login host, a batch script that does not render, sbatch
 * refusing the job, a bad user option) shows as a clear message on the
 * spawn-pending page, in the progress event stream and in the hub's log; no
 * job is left behind; the hub stays healthy and the user's next spawn works.
 * The jobs that do run are in slurm-ssh-failures-jobs.test.ts.
 *
 * The hub has two back-ends: `cluster` (good) and `broken` (the failure of
 * the test), picked with the `backend` user option. A private sshd (same
 * config and host key as the environment's) counts the logins, so "nothing
 * ran on the login host" is checked from its log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/lib/free-port.js';
import { parseForm } from '../helpers/e2e.js';
import { startPrivateSshd, type PrivateSshd } from '../helpers/private-sshd.js';
import { ensureSlurmCluster, type SlurmCluster } from '../helpers/slurm-cluster.js';
import {
  cancelAndForget,
  goodSpawnWorks,
  jobFiles,
  jobsStillLive,
  loggedIn,
  pendingPage,
  progressEvents,
  sshOptions,
  startLoggedHub,
  type JobFiles,
  type LoggedHub,
} from '../helpers/slurm-hub-failures.js';

const found = await ensureSlurmCluster();
const skip = 'unavailable' in found ? found.unavailable : false;
const USER = 'bob';

describe('Slurm over SSH through the hub: failures before a job runs', { skip, concurrency: false, timeout: 900_000 }, () => {
  const cluster = found as SlurmCluster;
  let files: JobFiles;
  let sshd: PrivateSshd;
  let work: string;
  const hubs: LoggedHub[] = [];

  before(async () => {
    files = await jobFiles(cluster);
    sshd = await startPrivateSshd(cluster);
    work = mkdtempSync(path.join(os.tmpdir(), 'ganymede-slurm-fail-'));
  });
  after(async () => {
    const jobs = hubs.flatMap((h) => h.jobIds());
    for (const h of hubs) await h.hub.stop().catch(() => undefined);
    await cancelAndForget(jobs, [`/home/${USER}`]);
    await sshd?.dispose();
    files?.remove();
    rmSync(work, { recursive: true, force: true });
  });

  /** A good back-end over the private sshd. */
  const good = (extra: Record<string, unknown> = {}) => ({
    kind: 'slurm',
    ssh: sshOptions(cluster, { port: sshd.port, known_hosts: sshd.knownHostsFile }),
    exec_prefix: 'sudo -n -u {username}',
    cmd: files.cmd,
    startup_poll_interval: 0.3,
    req_runtime: '00:10:00',
    ...extra,
  });

  /** A known_hosts file listing the environment's host key for [127.0.0.1]:`port` (so the connection is attempted). */
  const knownHostsFor = (port: number): string => {
    const file = path.join(work, `known_hosts.${port}`);
    const pub = readFileSync(`${cluster.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(file, `[127.0.0.1]:${port} ${pub}\n`);
    return file;
  };

  /** A hub with the good back-end `cluster` and the `broken` one (and more broken ones in `more`). */
  const hubWith = async (broken: Record<string, unknown>, raw: Record<string, unknown> = {}, more: Record<string, Record<string, unknown>> = {}): Promise<LoggedHub> => {
    const others = Object.fromEntries(Object.entries(more).map(([name, extra]) => [name, good(extra)]));
    const h = await startLoggedHub({ start_timeout: 120, spawners: { cluster: good(), broken: good(broken), ...others }, ...raw });
    hubs.push(h);
    return h;
  };

  /**
   * Starts `user`'s server with `options` through the REST API and checks the
   * failure everywhere: the API answer (500 with the message when it failed
   * within slow_spawn_timeout, else 202), the progress stream's `failed`
   * event, the spawn-pending page, the hub's "spawn failed" log line.
   * Resolves with the failure message and how long the spawn took.
   */
  const failedSpawn = async (h: LoggedHub, options: Record<string, unknown>, expected: RegExp): Promise<{ message: string; ms: number }> => {
    const token = await h.hub.tokenFor(USER);
    const t0 = Date.now();
    const started = await h.hub.api('POST', `/users/${USER}/server`, { token, body: options });
    assert.ok(started.status === 202 || started.status === 500, `POST server: ${started.status} ${started.text}`);
    if (started.status === 500) assert.match((started.body as { message: string }).message, expected, 'the API answer says why');
    const events = await progressEvents(h.hub, USER, token, 60_000);
    const ms = Date.now() - t0;
    const last = events.at(-1);
    assert.ok(last?.failed, `the progress stream ends with a failed event: ${JSON.stringify(events)}`);
    assert.match(last.message ?? '', expected, 'the failed event says why');
    const browser = await loggedIn(h.hub, USER);
    const page = await pendingPage(browser, USER);
    assert.equal(page.status, 200);
    assert.match(page.text, /Spawn failed/);
    assert.match(page.text, expected, 'the spawn-pending page says why');
    const logged = h.records('spawn failed');
    assert.ok(logged.some((r) => expected.test(String(r['err']))), `the hub log says why: ${JSON.stringify(logged)}`);
    return { message: last.message ?? '', ms };
  };

  it('a login host whose key does not match known_hosts: the message names the host and the key problem; nothing ran there', async () => {
    // a known_hosts file with another key for [127.0.0.1]:<port>
    const keyDir = path.join(work, 'other-key');
    execFileSync('mkdir', ['-p', keyDir]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(keyDir, 'key')]);
    const otherPub = execFileSync('cat', [path.join(keyDir, 'key.pub')], { encoding: 'utf8' }).trim().split(/\s+/).slice(0, 2).join(' ');
    const knownHosts = path.join(work, 'known_hosts.wrong');
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${otherPub}\n`);
    const logins = sshd.acceptedLogins();
    const h = await hubWith({ ssh: sshOptions(cluster, { port: sshd.port, known_hosts: knownHosts }) });
    const hostKey = new RegExp(`Refusing to connect to 127\\.0\\.0\\.1:${sshd.port} over SSH: .*(changed|does not match|not match|another key|differ)`, 'i');
    const { message } = await failedSpawn(h, { backend: 'broken' }, hostKey);
    assert.match(message, new RegExp(knownHosts.replaceAll('.', '\\.')), 'the message names the known_hosts file');
    assert.equal(sshd.acceptedLogins(), logins, 'no login on the host (nothing submitted)');
    assert.deepEqual(h.jobIds(), []);
    await goodSpawnWorks(h, USER, await h.hub.tokenFor(USER), { backend: 'cluster' });
  });

  it('a key the login host does not accept: the message names the account, host and key; nothing ran there', async () => {
    const keyDir = path.join(work, 'stranger-key');
    execFileSync('mkdir', ['-p', keyDir]);
    const key = path.join(keyDir, 'key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const logins = sshd.acceptedLogins();
    const h = await hubWith({ ssh: sshOptions(cluster, { port: sshd.port, known_hosts: sshd.knownHostsFile, key_file: key }) });
    await failedSpawn(h, { backend: 'broken' }, new RegExp(`${cluster.sshUser}@127\\.0\\.0\\.1:${sshd.port} did not accept the key ${key.replaceAll('.', '\\.')}`));
    assert.equal(sshd.acceptedLogins(), logins, 'no login on the host');
    assert.deepEqual(h.jobIds(), []);
    await goodSpawnWorks(h, USER, await h.hub.tokenFor(USER), { backend: 'cluster' });
  });

  it('an unreachable login host (a closed port): a quick "could not reach" message, no hang', async () => {
    const closed = await freePort('127.0.0.1');
    const h = await hubWith({ ssh: sshOptions(cluster, { port: closed, connect_timeout: 3, known_hosts: knownHostsFor(closed) }) });
    const unreachable = new RegExp(`Could not reach 127\\.0\\.0\\.1:${closed} over SSH`);
    const { ms } = await failedSpawn(h, { backend: 'broken' }, unreachable);
    assert.ok(ms < 10_000, `the spawn failed within ${ms} ms`);
    // the user tries again and again: each attempt fails as fast (the reconnect backoff makes no one wait)
    const times: number[] = [];
    for (let i = 0; i < 6; i++) times.push((await failedSpawn(h, { backend: 'broken' }, unreachable)).ms);
    assert.ok(times.every((t) => t < 5_000), `each retry failed within connect_timeout: ${times.join(', ')} ms`);
    assert.deepEqual(h.jobIds(), []);
    await goodSpawnWorks(h, USER, await h.hub.tokenFor(USER), { backend: 'cluster' });
  });

  it('a login host that accepts but never answers: the spawn fails after connect_timeout, not later', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const h = await hubWith({ ssh: sshOptions(cluster, { port, connect_timeout: 2, known_hosts: knownHostsFor(port) }) }, { slow_spawn_timeout: 0.5 });
      const { ms } = await failedSpawn(h, { backend: 'broken' }, new RegExp(`Could not reach 127\\.0\\.0\\.1:${port} over SSH: no answer within 2 s`));
      assert.ok(ms >= 1500 && ms < 15_000, `failed after ${ms} ms (connect_timeout 2 s)`);
      assert.deepEqual(h.jobIds(), []);
      await goodSpawnWorks(h, USER, await h.hub.tokenFor(USER), { backend: 'cluster' });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('a batch_script that does not render: the message names batch_script; no command ran on the login host', async () => {
    const h = await hubWith(
      { batch_script: '#!/bin/bash\n{% if partition %}\n#SBATCH --partition={{ partition }}\n{{ cmd }}\n' },
      {},
      { badfilter: { batch_script: '#!/bin/bash\n{{ cmd | nosuchfilter }}\n' } },
    );
    const logins = sshd.acceptedLogins();
    await failedSpawn(h, { backend: 'broken' }, /Cannot build the batch script: .*batch_script.*nothing was submitted/);
    assert.equal(sshd.acceptedLogins(), logins, 'no login on the host (no sbatch ran)');
    // an undefined filter is the same kind of failure
    await failedSpawn(h, { backend: 'badfilter' }, /Cannot build the batch script: .*batch_script.*nosuchfilter/);
    assert.equal(sshd.acceptedLogins(), logins, 'no login on the host (no sbatch ran)');
    assert.deepEqual(h.jobIds(), []);
    await goodSpawnWorks(h, USER, await h.hub.tokenFor(USER), { backend: 'cluster' });
  });

  it('sbatch refusing the job (no such partition): the message quotes sbatch; no job', async () => {
    const h = await hubWith({ req_partition: 'nosuchpartition' });
    const { message } = await failedSpawn(h, { backend: 'broken' }, /The scheduler refused the job \(exit status 1\): sbatch: error: .*invalid partition specified: nosuchpartition/i);
    assert.doesNotMatch(message, /JUPYTERHUB_API_TOKEN|export /, 'the script is not in the message');
    assert.deepEqual(h.jobIds(), []);
    const none = execFileSync('squeue', ['-h', '-u', USER, '-p', 'nosuchpartition', '-o', '%i'], { encoding: 'utf8' }).trim();
    assert.equal(none, '');
    await goodSpawnWorks(h, USER, await h.hub.tokenFor(USER), { backend: 'cluster' });
  });

  it('a hub user without an account on the cluster: the message quotes sudo; no job', async () => {
    const h = await hubWith({});
    const token = await h.hub.tokenFor('dave');
    const started = await h.hub.api('POST', '/users/dave/server', { token, body: { backend: 'cluster' } });
    assert.ok(started.status === 202 || started.status === 500, started.text);
    const events = await progressEvents(h.hub, 'dave', token, 60_000);
    const expected = /The scheduler refused the job \(exit status 1\): sudo: unknown user:? dave/;
    assert.match(events.at(-1)?.message ?? '', expected);
    const page = await pendingPage(await loggedIn(h.hub, 'dave'), 'dave');
    assert.match(page.text, /Spawn failed/);
    assert.match(page.text, expected);
    assert.ok(h.records('spawn failed').some((r) => expected.test(String(r['err']))));
    assert.deepEqual(h.jobIds(), []);
    assert.equal((await h.hub.api('GET', '/', { token })).status, 200);
  });

  describe('bad user options', () => {
    let h: LoggedHub;
    const form = [{ name: 'partition', label: 'Partition', type: 'text', pattern: '^[A-Za-z0-9_-]{1,64}$', max_length: 64 }];
    before(async () => {
      h = await startLoggedHub({ start_timeout: 120, spawner: good({ form_fields: form }) });
      hubs.push(h);
    });

    it('through the REST API: 400 JSON naming the field, nothing submitted', async () => {
      const token = await h.hub.tokenFor(USER);
      const logins = sshd.acceptedLogins();
      const bad = await h.hub.api('POST', `/users/${USER}/server`, { token, body: { partition: 'x; rm -rf /' } });
      assert.equal(bad.status, 400, bad.text);
      assert.equal((bad.body as { status: number }).status, 400);
      assert.match((bad.body as { message: string }).message, /"partition"/);
      const undeclared = await h.hub.api('POST', `/users/${USER}/server`, { token, body: { options: '--uid=0' } });
      assert.equal(undeclared.status, 400, undeclared.text);
      assert.match((undeclared.body as { message: string }).message, /Unknown option "options"/);
      assert.equal(sshd.acceptedLogins(), logins, 'nothing ran on the login host');
      assert.deepEqual(h.jobIds(), []);
      const model = await h.hub.api('GET', `/users/${USER}`, { token });
      assert.deepEqual((model.body as { servers: Record<string, unknown> }).servers, {}, 'no server was created or left pending');
      const refused = h.records('request refused').map((r) => String(r['message']));
      assert.ok(refused.some((m) => /"partition"/.test(m)) && refused.some((m) => /"options"/.test(m)), `the hub log has both refusals: ${refused.join(' | ')}`);
    });

    it('through the spawn form: the form again with the message, nothing submitted', async () => {
      const browser = await loggedIn(h.hub, USER);
      const formPage = await browser.navigate(`/hub/spawn/${USER}`);
      assert.equal(formPage.status, 200);
      const { fields } = parseForm(formPage.text);
      const logins = sshd.acceptedLogins();
      const res = await browser.request(`/hub/spawn/${USER}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, partition: 'x; rm -rf /' }).toString(),
      });
      const text = await res.text();
      assert.equal(res.status, 400);
      assert.match(text, /id="spawn_form"/, 'the form again');
      assert.match(text.replace(/&quot;/g, '"'), /class="error"[^>]*>[^<]*"partition"/, 'with the message naming the field');
      assert.equal(sshd.acceptedLogins(), logins, 'nothing ran on the login host');
      assert.deepEqual(h.jobIds(), []);
      assert.ok(h.records('spawn form refused').length > 0, 'the hub log has the refusal');
      await goodSpawnWorks(h, USER, await h.hub.tokenFor(USER), { partition: 'debug' });
    });
  });

  it('leaves no job behind', async () => {
    assert.deepEqual(await jobsStillLive(hubs.flatMap((h) => h.jobIds())), []);
  });
});
