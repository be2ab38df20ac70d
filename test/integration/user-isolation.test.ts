/**
 * Issue 9, item 1.3: users' servers are isolated from the hub and from each
 * other. As root, the local-process spawner runs each server as its user's
 * system account (created here with `create_system_users`, throw-away accounts
 * with a unique prefix, removed with `userdel -r` afterwards); the server must
 * run with that uid in that home, and must not read the hub's secrets or
 * another user's /proc/<pid>/environ. The data dir is the hub's alone.
 *
 * The parts that create accounts need root; without it they are skipped with a
 * notice (CI runs as root).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino, { type Logger } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { openDatabase } from '../../src/db/database.js';
import { prepareDataDir } from '../../src/hub/data-dir.js';
import { persistentSecret } from '../../src/lib/secrets.js';
import { effectiveRunAs, LocalProcessSpawner, type LocalProcessOptions } from '../../src/spawners/local-process.js';
import type { SpawnRequest, SpawnerState } from '../../src/spawners/spawner.js';
import { accountNameProblem, lookupAccount, parsePasswdLine, systemAccountName, type SystemAccount } from '../../src/spawners/system-account.js';
import { startTestHub, TRIVIAL_SERVER, type TestHub } from '../helpers/hub.js';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const ROOT_ONLY = IS_ROOT ? false : 'NOTICE: not running as root; the tests that create system accounts and change uid are skipped';
/** Unique per run, so accounts of a crashed run are never mistaken for ours (and are recognisable to remove). */
const PREFIX = `gy${randomBytes(3).toString('hex')}-`;

const mode = (file: string) => statSync(file).mode & 0o777;

/** A pino logger whose lines are collected in `lines`. */
function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

function procStatus(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return (line ?? '').slice(field.length + 1).trim();
}

/** Every account of this run (name starts with PREFIX). */
function ourAccounts(): SystemAccount[] {
  const out = execFileSync('getent', ['passwd'], { encoding: 'utf8' });
  return out.split('\n').map(parsePasswdLine).filter((a): a is SystemAccount => a !== undefined && a.name.startsWith(PREFIX));
}

/** Kills what still runs as our throw-away accounts (by pid), then removes them and their homes. */
function removeOurAccounts(): void {
  for (const account of ourAccounts()) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (procStatus(Number(entry), 'Uid').split(/\s+/)[0] === String(account.uid)) process.kill(Number(entry), 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    spawnSync('userdel', ['-r', account.name], { stdio: 'ignore' });
    rmSync(account.home, { recursive: true, force: true });
  }
}

/** A SpawnRequest for calling the spawner directly. */
function spawnRequest(user: string, workDir: string, log: Logger = pino({ level: 'silent' })): SpawnRequest & { saved: SpawnerState[] } {
  const saved: SpawnerState[] = [];
  return {
    user: { name: user, admin: false, groups: [] },
    serverName: '',
    backend: 'default',
    reportedPort: async () => undefined,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', JUPYTERHUB_SERVICE_PREFIX: `/user/${user}/`, JUPYTERHUB_USER: user },
    userOptions: {},
    workDir,
    log,
    saveState: async (s) => {
      saved.push(s);
    },
    progress: () => undefined,
    signal: new AbortController().signal,
    saved,
  };
}

/** A copy of the trivial server that every account can read, and the node that runs it, checked to be executable by others. */
function publicFixture(dir: string): string[] {
  chmodSync(dir, 0o755);
  const script = path.join(dir, 'trivial-server.mjs');
  copyFileSync(TRIVIAL_SERVER, script);
  chmodSync(script, 0o644);
  const probe = spawnSync(process.execPath, ['-e', 'require("fs").readFileSync(process.argv[1])', script], { uid: 65534, gid: 65534, cwd: '/', timeout: 10_000, encoding: 'utf8' });
  assert.equal(probe.status, 0, `${process.execPath} or ${script} cannot be run by an unprivileged account: ${String(probe.error)} ${probe.stderr}`);
  return [process.execPath, script];
}

describe('system account names (spawner.system_user_name)', () => {
  it('accepts portable POSIX names and refuses the rest, naming the problem', () => {
    for (const good of ['alice', 'jupyter-alice', '_svc', 'a.b', 'A1', 'x'.repeat(32)]) assert.equal(accountNameProblem(good), undefined, good);
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['-x', /start with a letter/],
      ['.', /start with a letter/],
      ['..', /start with a letter/],
      ['1000', /start with a letter/],
      ['0', /start with a letter/],
      ['a b', /contains " "/],
      ['a/b', /contains "\/"/],
      ['a:b', /contains ":"/],
      ['a\nb', /contains "\\n"/],
      ['é', /start with a letter/],
      ['aé', /contains "é"/],
      ['x'.repeat(33), /longer than 32/],
    ];
    for (const [name, problem] of bad) assert.match(accountNameProblem(name) ?? 'accepted', problem, JSON.stringify(name));
  });

  it('fills the template and fails the spawn with a clear message when the result is not a valid name', () => {
    assert.equal(systemAccountName('jupyter-{username}', 'alice'), 'jupyter-alice');
    assert.throws(() => systemAccountName('{username}', 'ann@example.org'), (err: Error) => {
      assert.match(err.message, /system account name "ann@example\.org" \(spawner\.system_user_name "\{username\}"\) is not a valid account name: it contains "@"/);
      return true;
    });
  });

  it('the defaults: run_as auto, the account named as the user, never created, uid 1000 and up', () => {
    const spawner = validateConfig({}).spawner;
    assert.ok(spawner.kind === 'local-process');
    assert.equal(spawner.run_as, 'auto');
    assert.equal(spawner.system_user_name, '{username}');
    assert.equal(spawner.create_system_users, false);
    assert.equal(spawner.system_user_min_uid, 1000);
    assert.throws(() => validateConfig({ spawner: { kind: 'local-process', run_as: 'root' } }), /spawner\.run_as/);
  });

  it('run_as auto is user when the hub is root, hub otherwise; explicit values stay', () => {
    assert.equal(effectiveRunAs('auto', 0), 'user');
    assert.equal(effectiveRunAs('auto', 1000), 'hub');
    assert.equal(effectiveRunAs('hub', 0), 'hub');
    assert.equal(effectiveRunAs('user', 1000), 'user');
  });
});

describe('the data dir is the hub\'s alone', () => {
  it('creates it 0700 and narrows an existing wider one and its secrets, with a log line', () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'ganymede-datadir-'));
    try {
      const fresh = path.join(parent, 'fresh', 'data');
      prepareDataDir(fresh);
      assert.equal(mode(fresh), 0o700);

      const wide = path.join(parent, 'wide');
      mkdirSync(wide, { mode: 0o755 });
      chmodSync(wide, 0o755);
      for (const f of ['cookie_secret', 'proxy_token', 'ganymede.sqlite', 'ganymede.sqlite-wal']) {
        writeFileSync(path.join(wide, f), 'x\n');
        chmodSync(path.join(wide, f), 0o644);
      }
      const { log, lines } = captureLog();
      prepareDataDir(wide, log);
      assert.equal(mode(wide), 0o700);
      for (const f of ['cookie_secret', 'proxy_token', 'ganymede.sqlite', 'ganymede.sqlite-wal']) assert.equal(mode(path.join(wide, f)), 0o600, f);
      const narrowed = lines.filter((l) => /narrowed the mode/.test(String(l['msg'])));
      assert.equal(narrowed.length, 5, JSON.stringify(lines));
      assert.ok(narrowed.some((l) => l['file'] === wide && l['was'] === '0755' && l['now'] === '0700'));

      // A secret read back from a file others can read is narrowed too.
      const secretFile = path.join(parent, 'secret');
      writeFileSync(secretFile, 'abc\n', { mode: 0o644 });
      chmodSync(secretFile, 0o644);
      assert.equal(persistentSecret(secretFile), 'abc');
      assert.equal(mode(secretFile), 0o600);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('a database opened before the hub ever ran (`ganymede token` on a fresh data dir) creates the dir 0700 and the file 0600', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'ganymede-datadir-'));
    try {
      const dataDir = path.join(parent, 'data');
      const database = await openDatabase('sqlite:///ganymede.sqlite', dataDir);
      await database.db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
      await database.close();
      assert.equal(mode(dataDir), 0o700);
      assert.equal(mode(path.join(dataDir, 'ganymede.sqlite')), 0o600);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('users\' servers run as their own system accounts', { skip: ROOT_ONLY, timeout: 120_000 }, () => {
  let dir = '';
  let cmd: string[] = [];
  let t: TestHub | undefined;
  let bare: TestHub | undefined;
  let adminToken = '';

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-isolation-'));
    cmd = publicFixture(dir);
    // run_as auto (the default): as root, that is `user`. allow_root true must not matter for non-root servers.
    t = await startTestHub({ spawner: { kind: 'local-process', cmd, run_as: 'auto', system_user_name: `${PREFIX}{username}`, create_system_users: true, allow_root: true } });
    adminToken = await t.tokenFor('isolation-admin', { admin: true });
  });

  after(async () => {
    await t?.stop().catch(() => undefined);
    await bare?.stop().catch(() => undefined);
    removeOurAccounts();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function startServer(hub: TestHub, user: string, token = adminToken): Promise<{ status: number; message: string }> {
    await hub.tokenFor(user);
    const r = await hub.api('POST', `/users/${user}/server`, { token });
    return { status: r.status, message: String((r.body as { message?: string }).message ?? r.text) };
  }

  async function readyPid(hub: TestHub, user: string): Promise<number> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const r = await hub.api('GET', `/users/${user}`, { token: adminToken });
      const server = (r.body as { servers?: Record<string, { ready: boolean; state?: { pid?: number } }> }).servers?.[''];
      if (server?.ready && server.state?.pid) return server.state.pid;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${user}'s server did not become ready`);
  }

  async function ask(user: string, sub = ''): Promise<Record<string, unknown>> {
    const res = await fetch(`${t!.publicUrl}/user/${user}/${sub}`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200, `GET /user/${user}/${sub}`);
    return (await res.json()) as Record<string, unknown>;
  }

  const canRead = async (user: string, file: string) => ask(user, `probe/read?path=${encodeURIComponent(file)}`);

  it('creates the account and runs the server with its uid and gid (no other group), in its home, with its HOME/USER/LOGNAME/SHELL', async () => {
    const started = await startServer(t!, 'alice');
    assert.ok(started.status === 201 || started.status === 202, `start: ${started.status} ${started.message}`);
    const pid = await readyPid(t!, 'alice');
    const account = await lookupAccount(`${PREFIX}alice`);
    assert.ok(account, `the account ${PREFIX}alice was created`);
    assert.notEqual(account.uid, 0);
    assert.equal(mode(account.home), 0o700, 'the new home is 0700');
    const me = await ask('alice');
    assert.equal(me['uid'], account.uid);
    assert.equal(me['gid'], account.gid);
    // libuv calls setgroups(0, NULL) before setgid/setuid: the hub's groups (root's 0) are gone, and so are the account's supplementary ones.
    assert.deepEqual(me['groups'], [account.gid]);
    assert.equal(procStatus(pid, 'Uid'), `${account.uid}\t${account.uid}\t${account.uid}\t${account.uid}`);
    assert.equal(procStatus(pid, 'Groups'), '');
    assert.equal(me['cwd'], account.home);
    assert.deepEqual(me['env'], { HOME: account.home, USER: account.name, LOGNAME: account.name, SHELL: account.shell });
    assert.ok(!(me['argv'] as string[]).includes('--allow-root'), 'no --allow-root for a server that is not root');
  });

  it('the server cannot read the hub\'s cookie secret, database, server logs or environment; its log file is the hub\'s', async () => {
    const dataDir = t!.dataDir;
    assert.deepEqual(await canRead('alice', '/proc/self/environ'), { readable: true }, 'the probe can read what it may');
    for (const file of ['cookie_secret', 'ganymede.sqlite', 'server-dirs/alice/server.log']) {
      assert.deepEqual(await canRead('alice', path.join(dataDir, file)), { readable: false, code: 'EACCES' }, file);
    }
    // The hub's own environment (GANYMEDE_SHARED_PASSWORD, CONFIGPROXY_AUTH_TOKEN when set there) is the hub's too.
    assert.deepEqual(await canRead('alice', `/proc/${process.pid}/environ`), { readable: false, code: 'EACCES' }, "the hub's environ");
    const log = statSync(path.join(dataDir, 'server-dirs', 'alice', 'server.log'));
    assert.equal(log.uid, process.getuid!(), 'the hub opened the log file');
    assert.equal(log.mode & 0o777, 0o600);
  });

  it('one user\'s server cannot read another user\'s /proc/<pid>/environ (their API token) or home', async () => {
    await startServer(t!, 'bob');
    const bobPid = await readyPid(t!, 'bob');
    const bob = (await lookupAccount(`${PREFIX}bob`))!;
    assert.match(readFileSync(`/proc/${bobPid}/environ`, 'utf8'), /JUPYTERHUB_API_TOKEN=/, 'bob\'s environ holds his token');
    assert.deepEqual(await canRead('alice', `/proc/${bobPid}/environ`), { readable: false, code: 'EACCES' });
    writeFileSync(path.join(bob.home, 'notes.txt'), 'private\n');
    assert.deepEqual(await canRead('alice', path.join(bob.home, 'notes.txt')), { readable: false, code: 'EACCES' });
  });

  it('the data dir is 0700 and the secrets and database 0600', () => {
    const dataDir = t!.dataDir;
    assert.equal(mode(dataDir), 0o700);
    for (const file of ['cookie_secret', 'ganymede.sqlite', 'ganymede.sqlite-wal', 'ganymede.sqlite-shm']) assert.equal(mode(path.join(dataDir, file)), 0o600, file);
  });

  it('a missing account without create_system_users fails the spawn, naming the account', async () => {
    bare = await startTestHub({ spawner: { kind: 'local-process', cmd, run_as: 'user', system_user_name: `${PREFIX}{username}` } });
    const r = await startServer(bare, 'carol', await bare.tokenFor('isolation-admin', { admin: true }));
    assert.equal(r.status, 500);
    assert.match(r.message, new RegExp(`No system account "${PREFIX}carol" for user "carol".*spawner\\.create_system_users`));
    assert.equal(await lookupAccount(`${PREFIX}carol`), undefined, 'no account was created');
  });

  it('refuses an account that is root (run_as user or auto), a system account, nobody, an invalid account name, and a missing notebook_dir', async () => {
    const work = mkdtempSync(path.join(dir, 'work-'));
    const base: LocalProcessOptions = { cmd, args: [], allowRoot: 'auto', ip: '127.0.0.1' };
    for (const runAs of ['auto', 'user'] as const) {
      const s = new LocalProcessSpawner({ ...base, runAs, systemUserName: 'root' });
      await assert.rejects(s.start(spawnRequest('mallory', work)), /Refusing to run the server of "mallory" as "root": that account is root \(uid 0, gid 0\)/);
    }
    const daemon = new LocalProcessSpawner({ ...base, systemUserName: 'daemon' });
    await assert.rejects(daemon.start(spawnRequest('daemon', work)), /Refusing to run the server of "daemon" as "daemon": uid 1 is a system account's \(below spawner\.system_user_min_uid 1000\)/);
    const nobody = new LocalProcessSpawner({ ...base, systemUserName: 'nobody', minUid: 1 });
    await assert.rejects(nobody.start(spawnRequest('nobody', work)), /uid 65534 is the overflow account/);
    const invalid = new LocalProcessSpawner({ ...base, systemUserName: '-{username}' });
    await assert.rejects(invalid.start(spawnRequest('mallory', work)), /system account name "-mallory" .* is not a valid account name: it must start with a letter/);
    const noDir = new LocalProcessSpawner({ ...base, runAs: 'hub', notebookDir: '/nonexistent/{username}' });
    await assert.rejects(noDir.start(spawnRequest('mallory', work)), /working directory \/nonexistent\/mallory .* does not exist/);
  });

  it('run_as hub while root is explicit, warned about at start, and only then passes --allow-root', async () => {
    const work = mkdtempSync(path.join(dir, 'work-'));
    const { log, lines } = captureLog();
    const s = new LocalProcessSpawner({ cmd, args: [], allowRoot: 'auto', ip: '127.0.0.1', runAs: 'hub', log });
    assert.ok(lines.some((l) => l['level'] === 40 && /every user's server and code runs as root/.test(String(l['msg']))), JSON.stringify(lines));
    const quiet = captureLog();
    new LocalProcessSpawner({ cmd, args: [], allowRoot: 'auto', ip: '127.0.0.1', log: quiet.log });
    assert.deepEqual(quiet.lines, [], 'run_as auto as root warns about nothing');
    const req = spawnRequest('solo', work);
    const started = await s.start(req);
    try {
      const deadline = Date.now() + 10_000;
      let me: Record<string, unknown> | undefined;
      while (!me && Date.now() < deadline) {
        me = await fetch(`${started.url}/user/solo/`).then((r) => r.json() as Promise<Record<string, unknown>>, () => undefined);
        if (!me) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(me, 'the server answered');
      assert.equal(me['uid'], 0);
      assert.ok((me['argv'] as string[]).includes('--allow-root'));
      assert.equal(me['cwd'], os.userInfo().homedir, "the hub account's home");
    } finally {
      await s.stop(started.state, { log: pino({ level: 'silent' }) });
    }
  });
});
