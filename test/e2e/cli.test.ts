/**
 * Issue 9 §3, what a newcomer hit, on the built command line (`node bin/ganymede.js`,
 * after `npm run build`): --version and help, a generated config that is valid
 * once uncommented, `config check` listing every problem, a second hub told which
 * option to change, the generated password shown after start-up and reset, and
 * `ganymede stop` / `POST /hub/api/shutdown` stopping the hub, the proxy and the
 * servers. Servers are the trivial test server (a copy per test, so that its
 * processes are found by path).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { TRIVIAL_SERVER } from '../helpers/hub.js';
import { findProcesses, freePorts, GANYMEDE_BIN, pidAlive, requireBuiltHub, waitFor } from '../helpers/e2e.js';

requireBuiltHub();

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ['GANYMEDE_CONFIG', 'CONFIGPROXY_AUTH_TOKEN', 'GANYMEDE_COOKIE_SECRET', 'JPY_COOKIE_SECRET', 'GANYMEDE_SHARED_PASSWORD']) delete env[key];
  return env;
}

/** `node bin/ganymede.js ARGS`, to completion. */
function ganymede(args: string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [GANYMEDE_BIN, ...args], { timeout: timeoutMs, env: cleanEnv() }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: unknown }).code as number | null) ?? 1 : 0, stdout, stderr });
    });
  });
}

/** `ganymede serve` as a child whose output is collected. */
class Serve {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(configFile: string, extra: string[] = []) {
    this.child = spawn(process.execPath, [GANYMEDE_BIN, 'serve', '--config', configFile, ...extra], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async ready(): Promise<void> {
    await waitFor('ganymede serve to say it is running', async () => {
      if (!this.running) throw new Error(`ganymede serve exited: ${this.stderr}`);
      return this.stderr.includes('Ganymede is running at');
    }, { timeoutMs: 30_000, intervalMs: 50, detail: () => this.stderr + this.stdout });
  }
}

interface Setup {
  dir: string;
  configFile: string;
  config: Record<string, unknown>;
  server: string;
  ports: { pub: number; api: number; hub: number };
}

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function setup(extra: Record<string, unknown> = {}): Promise<Setup> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-cli-'));
  const [pub, api, hub] = (await freePorts(3)) as [number, number, number];
  // a copy of the trivial server, so that this test's server processes are found by their path
  const server = path.join(dir, 'server.mjs');
  copyFileSync(TRIVIAL_SERVER, server);
  const config = {
    port: pub,
    hub: { port: hub },
    proxy: { api_url: `http://127.0.0.1:${api}` },
    data_dir: path.join(dir, 'data'),
    log_format: 'json',
    // the trivial server runs as the hub's account (as root, run_as: auto would want a system account per user)
    spawner: { kind: 'local-process', cmd: [process.execPath, server], run_as: 'hub' },
    ...extra,
  };
  const configFile = path.join(dir, 'config.yaml');
  writeFileSync(configFile, YAML.stringify(config));
  const s = { dir, configFile, config, server, ports: { pub, api, hub } };
  cleanups.push(async () => {
    await ganymede(['stop', '--config', configFile]);
    for (const pid of findProcesses((argv) => argv.some((a) => a.startsWith(dir)))) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

function writeConfig(s: Setup, file: string, change: Record<string, unknown>): string {
  const p = path.join(s.dir, file);
  writeFileSync(p, YAML.stringify({ ...s.config, ...change }));
  return p;
}

async function login(hubPort: number, password: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${hubPort}/hub/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'alice', password }).toString(),
    redirect: 'manual',
  });
  await res.body?.cancel();
  return res.status;
}

function passwordIn(text: string): string {
  const m = /={20,}\n[^\n]*password[^\n]*\n[^\n]*\n\n {6}(\S+)\n/.exec(text);
  assert.ok(m, `a framed password in:\n${text}`);
  return m[1]!;
}

describe('the command line (issue 9 §3)', () => {
  it('--version, version, help, -h, help COMMAND, COMMAND --help', async () => {
    for (const args of [['--version'], ['version']]) {
      const r = await ganymede(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^ganymede \d+\.\d+\.\d+ \(JupyterHub REST API 5\.5\.1/);
    }
    for (const args of [['help'], ['-h'], ['--help'], ['help', 'help']]) {
      const r = await ganymede(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: ganymede \[command\]/);
      assert.match(r.stdout, /stop {2,}stop everything/);
      assert.match(r.stdout, /node bin\/ganymede\.js/);
    }
    for (const [args, expected] of [
      [['help', 'stop'], /^Usage: ganymede stop/],
      [['stop', '--help'], /^Usage: ganymede stop/],
      [['help', 'config'], /^Usage: ganymede config check\|show\|generate/],
      [['password', '-h'], /^Usage: ganymede password reset/],
      [['help', 'serve'], /^Usage: ganymede serve/],
      [['help', 'proxy'], /^Usage: ganymede-proxy/],
    ] as const) {
      const r = await ganymede([...args]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, expected, args.join(' '));
    }
    const r = await ganymede(['help', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no help for "nope": not a command/);
  });

  it('config generate, every option line uncommented, passes config check; config check lists every problem', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-cli-config-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const gen = await ganymede(['config', 'generate']);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /^# hub:$/m);
    assert.match(gen.stdout, /^# {3}port: 8081$/m);
    const file = path.join(dir, 'all.yaml');
    writeFileSync(file, gen.stdout.replace(/^# /gm, ''));
    const check = await ganymede(['config', 'check', '--config', file]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /configuration OK/);

    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'port: eighty\nhub:\n  prot: 1\nstart_timout: 3\nproxy:\n  check_interval: -1\n');
    const r = await ganymede(['config', 'check', '--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /4 problems/);
    for (const key of [/port: expected integer/, /hub\.prot: unknown option/, /start_timout: unknown option/, /proxy\.check_interval: /]) assert.match(r.stderr, key);
  });

  it('config show masks every secret: client secrets, service tokens, the proxy token, the database password', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-cli-config-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'secrets.yaml');
    const secrets = ['client-secret-value', 'service-token-value-123', 'proxy-token-value', 'db-password-value'];
    writeFileSync(
      file,
      YAML.stringify({
        auth: { kind: 'oidc', client_id: 'hub', client_secret: secrets[0], issuer: 'https://idp.example.org/realms/x' },
        services: [{ name: 'culler', api_token: secrets[1] }],
        proxy: { auth_token: secrets[2] },
        db: { url: `postgres://hub:${secrets[3]}@127.0.0.1:5432/hub` },
      }),
    );
    const r = await ganymede(['config', 'show', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /client_id: hub/);
    for (const s of secrets) assert.ok(!r.stdout.includes(s), `${s} is shown`);
  });

  it('a second hub on the same ports is told which option to change', async () => {
    const s = await setup({ auth: { kind: 'shared-password', shared_password: 'first-hub-password' } });
    const first = new Serve(s.configFile);
    await first.ready();
    // same ports, another data dir: the hub's port is taken
    let r = await ganymede(['serve', '--config', s.configFile, '--data-dir', path.join(s.dir, 'second')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`The hub cannot listen on 127\\.0\\.0\\.1:${s.ports.hub}: the address is already in use.*set hub\\.port`));
    // its own hub port, the same proxy: the first hub's proxy refuses its token
    const [hub2, pub2, api2] = (await freePorts(3)) as [number, number, number];
    r = await ganymede(['serve', '--config', writeConfig(s, 'c2.yaml', { hub: { port: hub2 }, data_dir: path.join(s.dir, 'second') })]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /refuses our token.*set proxy\.api_url and port/);
    // its own proxy API port, the same public port: the proxy cannot listen there
    r = await ganymede(['serve', '--config', writeConfig(s, 'c3.yaml', { hub: { port: hub2 }, proxy: { api_url: `http://127.0.0.1:${api2}` }, data_dir: path.join(s.dir, 'third') })]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`The proxy cannot listen on 127\\.0\\.0\\.1:${s.ports.pub}: the address is already in use.*set port \\(--port\\)`));
    // and a proxy API port taken by some other program
    const squatter = net.createServer().listen(api2, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    try {
      r = await ganymede(['serve', '--config', writeConfig(s, 'c4.yaml', { port: pub2, hub: { port: hub2 }, proxy: { api_url: `http://127.0.0.1:${api2}` }, data_dir: path.join(s.dir, 'fourth') })]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`The proxy's REST API cannot listen on 127\\.0\\.0\\.1:${api2}.*set proxy\\.api_url`));
    } finally {
      squatter.close();
    }
    assert.ok(first.running, 'the first hub is untouched');
    first.child.kill('SIGTERM');
    await first.exited;
  });

  it('shows the generated password after start-up, framed; password reset makes a new one', async () => {
    const s = await setup();
    const first = new Serve(s.configFile);
    await first.ready();
    await waitFor('the password notice', async () => first.stderr.includes('Log in with any user name'), { timeoutMs: 10_000, detail: () => first.stderr });
    assert.ok(first.stderr.indexOf('Ganymede is running at') < first.stderr.indexOf('generated the shared login password'), 'after the start-up line');
    // the notice follows the "hub ready" log line, but stdout and stderr are two pipes: which arrives first here is not the order they were written in
    await waitFor('the "hub ready" log line', async () => /"msg":"hub ready"/.test(first.stdout), { timeoutMs: 10_000, detail: () => first.stdout });
    const password = passwordIn(first.stderr);
    assert.match(first.stderr, /ganymede password reset/);
    assert.ok(!first.stdout.includes(password), 'the password is not in the log');
    assert.equal(await login(s.ports.hub, password), 302);

    const reset = await ganymede(['password', 'reset', '--config', s.configFile]);
    assert.equal(reset.code, 0, reset.stderr);
    const fresh = passwordIn(reset.stdout);
    assert.notEqual(fresh, password);
    first.child.kill('SIGTERM');
    await first.exited;
    const second = new Serve(s.configFile);
    await second.ready();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!second.stderr.includes('generated the shared login password'), 'a stored password is not shown again');
    assert.equal(await login(s.ports.hub, fresh), 302);
    assert.equal(await login(s.ports.hub, password), 403);
    second.child.kill('SIGTERM');
    await second.exited;

    const configured = await ganymede(['password', 'reset', '--config', writeConfig(s, 'set.yaml', { auth: { kind: 'shared-password', shared_password: 'chosen-password' } })]);
    assert.equal(configured.code, 2);
    assert.match(configured.stderr, /set by auth\.shared_password or GANYMEDE_SHARED_PASSWORD; change it there/);
  });

  it('ganymede stop stops the hub, every server and the proxy; POST /hub/api/shutdown does too', async () => {
    const s = await setup({ auth: { kind: 'shared-password', shared_password: 'stop-test-password' } });
    const dataDir = String(s.config['data_dir']);
    const hub = new Serve(s.configFile);
    await hub.ready();
    const token = async (name: string, admin = false) => {
      const r = await ganymede(['token', name, '--config', s.configFile, ...(admin ? ['--admin'] : [])]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const startServer = async (name: string) => {
      const res = await fetch(`http://127.0.0.1:${s.ports.pub}/hub/api/users/${name}/server`, { method: 'POST', headers: { Authorization: `token ${await token(name)}` } });
      await res.body?.cancel();
      assert.ok(res.status === 201 || res.status === 202, `start ${name}: ${res.status}`);
    };
    const serverPids = () => findProcesses((argv) => argv.includes(s.server));
    await startServer('alice');
    await startServer('bob');
    await waitFor('two servers', async () => serverPids().length === 2, { timeoutMs: 20_000 });
    const proxyPid = Number(readFileSync(path.join(dataDir, 'proxy.pid'), 'utf8'));
    assert.ok(pidAlive(proxyPid));
    assert.ok(existsSync(path.join(dataDir, 'hub.pid')));

    const r = await ganymede(['stop', '--config', s.configFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hub: stopped/);
    assert.match(r.stdout, /servers: 2 stopped/);
    assert.match(r.stdout, /proxy: stopped/);
    assert.equal(await hub.exited, 0);
    await waitFor('every process gone', async () => serverPids().length === 0 && !pidAlive(proxyPid), { timeoutMs: 10_000 });
    assert.ok(!existsSync(path.join(dataDir, 'hub.pid')));
    // nothing left to stop
    const again = await ganymede(['stop', '--config', s.configFile]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /hub: not running\nservers: 0 stopped\nproxy: not running/);

    // the same through the REST API of a running hub
    const hub2 = new Serve(s.configFile);
    await hub2.ready();
    await startServer('carol');
    await waitFor('a server', async () => serverPids().length === 1, { timeoutMs: 20_000 });
    const proxyPid2 = Number(readFileSync(path.join(dataDir, 'proxy.pid'), 'utf8'));
    const res = await fetch(`http://127.0.0.1:${s.ports.pub}/hub/api/shutdown`, {
      method: 'POST',
      headers: { Authorization: `token ${await token('boss', true)}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ servers: true, proxy: true }),
    });
    assert.equal(res.status, 202, await res.text());
    assert.equal(await hub2.exited, 0);
    await waitFor('every process gone after the API shutdown', async () => serverPids().length === 0 && !pidAlive(proxyPid2), { timeoutMs: 15_000 });
  });

  it('the proxy command logs request paths clipped, like the hub', async () => {
    const [pub, api] = (await freePorts(2)) as [number, number];
    const proxy = spawn(process.execPath, [GANYMEDE_BIN, 'proxy', '--ip', '127.0.0.1', '--port', String(pub), '--api-port', String(api), '--log-level', 'debug'], {
      env: { ...cleanEnv(), CONFIGPROXY_AUTH_TOKEN: 'proxy-log-test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proxy.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => proxy.once('exit', resolve));
    try {
      await waitFor('the proxy to listen', async () => out.includes('"api"') || out.includes('listening') || out.includes(`${pub}`), { timeoutMs: 15_000, detail: () => out });
      const res = await fetch(`http://127.0.0.1:${pub}/${'a'.repeat(6000)}`);
      await res.body?.cancel();
      await waitFor('the "no route" line', async () => out.includes('"msg":"no route"'), { timeoutMs: 5000, detail: () => out });
      const line = out.split('\n').find((l) => l.includes('"msg":"no route"'))!;
      assert.match((JSON.parse(line) as { url: string }).url, /^\/a+…\[clipped \d+ chars\]$/);
      assert.ok(line.length < 2000, `${line.length} chars`);
    } finally {
      proxy.kill('SIGTERM');
      await exited;
    }
  });
});
