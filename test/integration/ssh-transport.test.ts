/**
 * The SSH transport against the real sshd of the Slurm test environment
 * (a private instance per test file: test/helpers/private-sshd.ts): commands,
 * stdin, env through sudo, host key refusals, unreachable hosts, timeouts,
 * one pooled connection, reconnect after the sshd restarts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { SshOptionsSchema, type SshOptions } from '../../src/spawners/batch/ssh-config.js';
import { SshTransport } from '../../src/spawners/batch/ssh-transport.js';
import { TransportError } from '../../src/spawners/batch/transport.js';
import { freePort } from '../../src/lib/free-port.js';
import { startPrivateSshd, type PrivateSshd } from '../helpers/private-sshd.js';
import { ensureSlurmCluster, runAsRoot, sshConfigFor, squeueJob, type SlurmCluster } from '../helpers/slurm-cluster.js';

let c: SlurmCluster | undefined;
let sshd: PrivateSshd | undefined;
let skip = '';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ganymede-ssh-test-'));
const transports: SshTransport[] = [];

before(async () => {
  const env = await ensureSlurmCluster();
  if ('unavailable' in env) {
    skip = env.unavailable;
    return;
  }
  c = env;
  sshd = await startPrivateSshd(c, { maxSessions: 4 });
});
after(async () => {
  await Promise.all(transports.map((t) => t.close()));
  await sshd?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** A transport to the private sshd (or the given overrides), closed after the file. */
function transport(overrides: Partial<SshOptions> = {}): SshTransport {
  const cfg = Value.Default(SshOptionsSchema, {
    host: '127.0.0.1',
    port: sshd?.port,
    user: c?.sshUser,
    key_file: c?.keyFile,
    known_hosts: sshd?.knownHostsFile,
    max_sessions: 4,
    ...overrides,
  }) as SshOptions;
  assert.ok(Value.Check(SshOptionsSchema, cfg), 'a valid ssh: config');
  const t = new SshTransport(cfg, { backoff: { baseMs: 50, maxMs: 400 } });
  transports.push(t);
  return t;
}

function newKeyLine(): string {
  const f = path.join(tmp, `key-${Math.random().toString(36).slice(2)}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', f]);
  return f;
}

/** Waits (at most 3 s) until no process runs `cmdline` (the remote command was killed). */
async function gone(cmdline: string): Promise<void> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const r = await runAsRoot(`ps -eo stat=,args= | grep -v '^Z' | grep -c ${JSON.stringify(` ${cmdline}$`)} || true`);
    if (r.stdout.trim() === '0') return;
    assert.ok(Date.now() < deadline, `${cmdline} still runs on the login host`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function rejection(p: Promise<unknown>): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TransportError, `expected a TransportError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the run to fail');
}

test('runs a command: stdout, stderr and exit status', async (t) => {
  if (skip) return t.skip(skip);
  const ssh = transport();
  assert.equal(ssh.where, `jupyterspawner@127.0.0.1:${sshd?.port}`);
  const r = await ssh.run('id -un; echo oops >&2; exit 3', { timeoutMs: 10_000 });
  assert.deepEqual(r, { stdout: 'jupyterspawner\n', stderr: 'oops\n', code: 3 });
  // commands that end at once (exit status in the same packets as the exec reply) keep their status
  for (let i = 0; i < 30; i++) assert.equal((await ssh.run(`exit ${i}`, { timeoutMs: 10_000 })).code, i);
  return undefined;
});

test('the environment sshd itself works too', async (t) => {
  if (skip || !c) return t.skip(skip);
  const ssh = transport(sshConfigFor(c));
  assert.equal((await ssh.run('echo ok', { timeoutMs: 10_000 })).stdout, 'ok\n');
  return undefined;
});

test('stdin reaches the command, large or with quotes, and through sudo to a job', async (t) => {
  if (skip || !c) return t.skip(skip);
  const ssh = transport();
  const text = `line 1 'single' "double" $HOME \`tick\`\n\\backslash\n`;
  assert.equal((await ssh.run('cat', { stdin: text, timeoutMs: 10_000 })).stdout, text);
  const big = 'x'.repeat(2 * 1024 * 1024);
  assert.equal((await ssh.run('wc -c', { stdin: big, timeoutMs: 20_000 })).stdout.trim(), String(big.length));
  // no stdin: the command sees end of input at once instead of hanging
  assert.equal((await ssh.run('cat; echo done', { timeoutMs: 10_000 })).stdout, 'done\n');

  const mark = `stdin-through-sudo-${process.pid}`;
  const script = `#!/bin/bash\n#SBATCH --time=00:02:00\n#SBATCH --output=/home/alice/ganymede-ssh-test-%j.log\necho '${mark}' "$(id -un)"\n`;
  const sub = await ssh.run(`sudo -n -u alice ${c.wrappers.sbatch}`, { stdin: script, timeoutMs: 20_000 });
  assert.equal(sub.code, 0, sub.stderr);
  const id = sub.stdout.trim();
  assert.match(id, /^\d+$/);
  t.after(() => runAsRoot(`scancel ${id}; rm -f /home/alice/ganymede-ssh-test-${id}.log`));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const log = `/home/alice/ganymede-ssh-test-${id}.log`;
    if (existsSync(log) && readFileSync(log, 'utf8').includes(mark)) {
      assert.equal(readFileSync(log, 'utf8'), `${mark} alice\n`);
      break;
    }
    assert.ok(Date.now() < deadline, `job ${id} wrote nothing: ${JSON.stringify(await squeueJob(id))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
});

test('env: quoted assignments reach the command (and sudo env_keep), any value survives, bad names refused', async (t) => {
  if (skip || !c) return t.skip(skip);
  const ssh = transport();
  const value = `it's "quoted" $HOME \`id\` ; rm -rf / \n second line\t* ?`;
  const r = await ssh.run(`printf '%s|%s' "$GANY_A" "$GANY_B"`, { env: { GANY_A: value, GANY_B: '' }, timeoutMs: 10_000 });
  assert.equal(r.stdout, `${value}|`);
  // through `sudo -u` (no -E) to a BriCS wrapper: env_keep passes SLURMSPAWNER_JOB_ID on
  const q = await ssh.run(`sudo -n -u carol.proj1 ${c.wrappers.squeue}`, { env: { SLURMSPAWNER_JOB_ID: '999999999' }, timeoutMs: 10_000 });
  assert.equal(q.code, 1, 'squeue ran with the id (an unknown job), the wrapper did not refuse a missing id');
  assert.match(q.stderr, /Invalid job id/);
  await assert.rejects(ssh.run('true', { env: { 'A;touch /tmp/x': '1' }, timeoutMs: 10_000 }), /not a valid environment variable name/);
  await assert.rejects(ssh.run('true', { env: { '1A': '1' }, timeoutMs: 10_000 }), /not a valid environment variable name/);
  return undefined;
});

test('a hashed known_hosts (ssh-keygen -H) works; close() releases the connection and a later run reconnects', async (t) => {
  if (skip || !sshd) return t.skip(skip);
  const kh = path.join(tmp, 'known_hosts.hashed');
  writeFileSync(kh, readFileSync(sshd.knownHostsFile));
  execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
  assert.match(readFileSync(kh, 'utf8'), /^\|1\|/);
  const ssh = transport({ known_hosts: kh });
  const logins = sshd.acceptedLogins();
  assert.equal((await ssh.run('echo hashed', { timeoutMs: 10_000 })).stdout, 'hashed\n');
  await ssh.close();
  await ssh.close();
  assert.equal((await ssh.run('echo again', { timeoutMs: 10_000 })).stdout, 'again\n');
  assert.equal(sshd.acceptedLogins() - logins, 2);
  return undefined;
});

test('a host key that does not match known_hosts is refused, and nothing runs', async (t) => {
  if (skip || !sshd) return t.skip(skip);
  const other = readFileSync(`${newKeyLine()}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  const kh = path.join(tmp, 'known_hosts.wrong');
  writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${other}\n`);
  const marker = path.join(tmp, 'must-not-exist');
  const logins = sshd.acceptedLogins();
  const err = await rejection(transport({ known_hosts: kh }).run(`touch ${marker}`, { timeoutMs: 10_000 }));
  assert.equal(err.failure, 'host-key');
  assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${sshd.port}.*does not match ${kh.replaceAll('.', '\\.')}`));
  assert.equal(existsSync(marker), false);
  assert.equal(sshd.acceptedLogins(), logins, 'no login happened');
  // a key of a type the server does not have (it has only ed25519)
  const f = path.join(tmp, `ecdsa-${Date.now()}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-N', '', '-f', f]);
  writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${readFileSync(`${f}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
  const type = await rejection(transport({ known_hosts: kh }).run(`touch ${marker}`, { timeoutMs: 10_000 }));
  assert.equal(type.failure, 'host-key');
  assert.match(type.message, /offers no host key of the types .* lists for it \(ecdsa-sha2-nistp256\)/);
  assert.equal(existsSync(marker), false);
  return undefined;
});

test('a host missing from known_hosts is refused without connecting; so is a missing file', async (t) => {
  if (skip || !sshd || !c) return t.skip(skip);
  const kh = path.join(tmp, 'known_hosts.other');
  writeFileSync(kh, `[127.0.0.1]:1 ${readFileSync(`${c.hostKeyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
  const err = await rejection(transport({ known_hosts: kh }).run('true', { timeoutMs: 10_000 }));
  assert.equal(err.failure, 'host-key');
  assert.match(err.message, new RegExp(`\\[127\\.0\\.0\\.1\\]:${sshd.port} is not in ${kh.replaceAll('.', '\\.')}`));
  const missing = await rejection(transport({ known_hosts: path.join(tmp, 'nope') }).run('true', { timeoutMs: 10_000 }));
  assert.equal(missing.failure, 'host-key');
  assert.match(missing.message, /Cannot read the SSH known_hosts file .*nope: ENOENT/);
  return undefined;
});

test('a key the server does not accept is an auth error', async (t) => {
  if (skip) return t.skip(skip);
  const err = await rejection(transport({ key_file: newKeyLine() }).run('true', { timeoutMs: 10_000 }));
  assert.equal(err.failure, 'auth');
  assert.match(err.message, /jupyterspawner@127\.0\.0\.1:\d+ did not accept the key/);
  return undefined;
});

test('an unreachable port fails fast and says where', async (t) => {
  if (skip) return t.skip(skip);
  const port = await freePort('127.0.0.1');
  const kh = path.join(tmp, 'known_hosts.closed');
  writeFileSync(kh, readFileSync(sshd?.knownHostsFile as string, 'utf8').replace(/\]:\d+ /, `]:${port} `));
  const started = Date.now();
  const err = await rejection(transport({ port, known_hosts: kh }).run('true', { timeoutMs: 10_000 }));
  assert.equal(err.failure, 'unreachable');
  assert.match(err.message, new RegExp(`^Could not reach 127\\.0\\.0\\.1:${port} over SSH: connect ECONNREFUSED`));
  assert.ok(Date.now() - started < 2000);
  return undefined;
});

test('a host that accepts TCP but never speaks SSH: unreachable after connect_timeout', async (t) => {
  if (skip || !sshd) return t.skip(skip);
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    silent.close();
  });
  const port = (silent.address() as net.AddressInfo).port;
  const kh = path.join(tmp, 'known_hosts.silent');
  writeFileSync(kh, readFileSync(sshd.knownHostsFile, 'utf8').replace(/\]:\d+ /, `]:${port} `));
  const started = Date.now();
  const err = await rejection(transport({ port, known_hosts: kh, connect_timeout: 0.5 }).run('true', { timeoutMs: 10_000 }));
  assert.equal(err.failure, 'unreachable');
  assert.equal(err.message, `Could not reach 127.0.0.1:${port} over SSH: no answer within 0.5 s`);
  assert.ok(Date.now() - started < 2000);
  return undefined;
});

test('after failed attempts, runs fail at once with the last error and new attempts are spaced out (backoff)', async (t) => {
  if (skip || !sshd) return t.skip(skip);
  // a server that accepts TCP connections and drops them at once: every attempt is counted
  let attempts = 0;
  const dropper = net.createServer((s) => {
    attempts++;
    s.destroy();
  });
  await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
  t.after(() => dropper.close());
  const port = (dropper.address() as net.AddressInfo).port;
  const kh = path.join(tmp, 'known_hosts.dropper');
  writeFileSync(kh, readFileSync(sshd.knownHostsFile, 'utf8').replace(/\]:\d+ /, `]:${port} `));
  const ssh = transport({ port, known_hosts: kh }); // backoff 50 ms doubling to 400 ms
  const started = Date.now();
  const messages = new Set<string>();
  while (Date.now() - started < 1500) {
    const err = await rejection(ssh.run('true', { timeoutMs: 10_000 }));
    assert.equal(err.failure, 'unreachable');
    messages.add(err.message.replace(/\(next attempt in [\d.]+ s\)/, '(next attempt in N s)'));
    await new Promise((r) => setTimeout(r, 10));
  }
  // without backoff ~100 attempts; with it: 50+100+200+400+400… ms apart (less by the jitter) → at most 9
  assert.ok(attempts >= 3 && attempts <= 9, `connection attempts in 1.5 s: ${attempts}`);
  assert.deepEqual([...messages].sort(), [
    `Could not reach 127.0.0.1:${port} over SSH: Connection lost before handshake`,
    `Could not reach 127.0.0.1:${port} over SSH: Connection lost before handshake (next attempt in N s)`,
  ]);
  return undefined;
});

test('a command over its time limit is stopped with a timeout error; an aborted one too; the connection stays usable', async (t) => {
  if (skip) return t.skip(skip);
  const ssh = transport();
  await ssh.run('true', { timeoutMs: 10_000 });
  const started = Date.now();
  const err = await rejection(ssh.run('sleep 37.5', { timeoutMs: 400 }));
  assert.equal(err.failure, 'timeout');
  assert.match(err.message, /did not finish within 0\.4 s/);
  assert.ok(Date.now() - started < 2000);
  await gone('sleep 37.5');
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 200);
  const aborted = await rejection(ssh.run('sleep 38.5', { timeoutMs: 10_000, signal: ctl.signal }));
  assert.equal(aborted.failure, 'aborted');
  await gone('sleep 38.5');
  // command_timeout from the config caps a longer per-run limit
  const capped = await rejection(transport({ command_timeout: 0.3 }).run('sleep 39.5', { timeoutMs: 10_000 }));
  assert.equal(capped.failure, 'timeout');
  assert.equal((await ssh.run('echo still', { timeoutMs: 10_000 })).stdout, 'still\n');
  return undefined;
});

test('many concurrent runs share ONE connection, beyond MaxSessions by queueing', async (t) => {
  if (skip || !sshd) return t.skip(skip);
  const ssh = transport({ max_sessions: 4 }); // the private sshd allows 4 sessions per connection
  const before = sshd.acceptedLogins();
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => ssh.run(`sleep 0.05; echo ${i}`, { timeoutMs: 30_000 })));
  assert.deepEqual(
    results.map((r) => r.stdout),
    Array.from({ length: 40 }, (_, i) => `${i}\n`),
  );
  assert.equal(sshd.acceptedLogins() - before, 1, 'one login for 40 commands');
  return undefined;
});

test('after the sshd is restarted (connections cut), the next runs reconnect', async (t) => {
  if (skip || !sshd) return t.skip(skip);
  const ssh = transport();
  assert.equal((await ssh.run('echo one', { timeoutMs: 10_000 })).stdout, 'one\n');
  const logins = sshd.acceptedLogins();
  await sshd.stop();
  const down = await rejection(ssh.run('echo two', { timeoutMs: 10_000 }));
  assert.equal(down.failure, 'unreachable');
  await sshd.start();
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      assert.equal((await ssh.run('echo three', { timeoutMs: 10_000 })).stdout, 'three\n');
      break;
    } catch (err) {
      assert.ok(Date.now() < deadline, `no reconnect: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(sshd.acceptedLogins() > logins);
  return undefined;
});
