/**
 * bin/ganymede-singleuser, the POSIX sh launcher a batch job runs: it picks a
 * free port, reports it (`POST $JUPYTERHUB_API_URL/batchspawner`), and execs the
 * server with that port. Run as a real process against a fake hub endpoint (a
 * small HTTP server here) with only the tools it may use on PATH (curl, or
 * python3, not both), and against the real hub with a spawner double that waits
 * for the report, wrapping the trivial server and the real jupyterhub-singleuser.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestHub, TRIVIAL_SERVER, type TestHub } from '../helpers/hub.js';
import { reportingSpawner, type ReportingSpawner } from '../helpers/spawner-doubles.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { getServer } from '../../src/db/repos/servers.js';

const LAUNCHER = fileURLToPath(new URL('../../bin/ganymede-singleuser', import.meta.url));
const SINGLEUSER = '/usr/bin/jupyterhub-singleuser';

/** The real program behind a tool name (not a wrapper such as pyenv's shim, which needs bash on PATH). */
function realTool(name: string): string | undefined {
  if (name === 'python3' && existsSync('/usr/bin/python3')) return '/usr/bin/python3';
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The POSIX utilities the launcher uses besides curl / python3. */
const BASE_TOOLS = ['od', 'tr', 'cut', 'cat', 'sleep'];

interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A fake hub API: records each request and answers with the next of `answers` (the last one repeats). */
async function fakeHub(answers: { status: number; body?: unknown; delayMs?: number }[]): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const a = answers[Math.min(requests.length - 1, answers.length - 1)]!;
      setTimeout(() => {
        res.writeHead(a.status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(a.body ?? { message: 'port recorded' }));
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hub/api`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('bin/ganymede-singleuser', { timeout: 120_000 }, () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'ganymede-launcher-'));
  const children: ChildProcess[] = [];
  const token = `launcher${randomBytes(16).toString('hex')}`;

  /** A directory holding only `tools` (symlinks to the real ones), for PATH. */
  function toolDir(name: string, tools: string[]): string {
    const dir = path.join(tmp, name);
    execFileSync('mkdir', ['-p', dir]);
    for (const t of tools) {
      const real = realTool(t);
      assert.ok(real, `${t} is not installed`);
      symlinkSync(real, path.join(dir, t));
    }
    return dir;
  }

  /** Runs the launcher; resolves when it exits (or when `until` says so), with its output. */
  function run(env: Record<string, string>, args: string[]): { child: ChildProcess; exited: Promise<{ code: number | null; stderr: string; stdout: string }> } {
    const child = spawn('/bin/sh', [LAUNCHER, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr, stdout })));
    return { child, exited };
  }

  function baseEnv(apiUrl: string, pathDir: string, extra: Record<string, string> = {}): Record<string, string> {
    return { PATH: pathDir, JUPYTERHUB_API_URL: apiUrl, JUPYTERHUB_API_TOKEN: token, JUPYTERHUB_SERVICE_URL: 'http://127.0.0.1:0/user/tess/', ...extra };
  }

  /** Waits until the trivial server answers at `url`; returns what it says about itself. */
  async function answers(url: string): Promise<{ argv: string[]; path: string }> {
    for (let i = 0; i < 100; i++) {
      try {
        const res = await fetch(url);
        return (await res.json()) as { argv: string[]; path: string };
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`nothing answers at ${url}`);
  }

  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is POSIX sh that shellcheck finds clean', { skip: realTool('shellcheck') ? false : 'shellcheck is not installed' }, () => {
    execFileSync('shellcheck', ['--shell=sh', '--severity=style', LAUNCHER], { encoding: 'utf8' });
  });

  for (const tool of ['curl', 'python3'] as const) {
    it(`with only ${tool} (no ${tool === 'curl' ? 'python3' : 'curl'} on PATH): reports {"port": N} with the token, then execs the server with --port=N and the URL on N`, async () => {
      const hub = await fakeHub([{ status: 200 }]);
      try {
        const bin = toolDir(`only-${tool}`, [...BASE_TOOLS, tool]);
        const { child } = run(baseEnv(`${hub.url}/`, bin), [process.execPath, TRIVIAL_SERVER]);
        for (let i = 0; i < 200 && hub.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
        assert.equal(hub.requests.length, 1);
        const req = hub.requests[0]!;
        assert.equal(req.method, 'POST');
        assert.equal(req.url, '/hub/api/batchspawner');
        assert.equal(req.headers.authorization, `token ${token}`);
        assert.match(req.headers['content-type'] ?? '', /^application\/json/);
        const sent = JSON.parse(req.body) as Record<string, unknown>;
        assert.deepEqual(Object.keys(sent), ['port']);
        const port = sent['port'] as number;
        assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `port ${port}`);
        const self = await answers(`http://127.0.0.1:${port}/user/tess/api`);
        assert.deepEqual(self.argv, [`--port=${port}`]);
        assert.equal(self.path, '/user/tess/api');
        child.kill('SIGTERM');
      } finally {
        await hub.close();
      }
    });
  }

  it('with neither curl nor python3: exits 1 saying so, runs nothing, reports nothing', async () => {
    const hub = await fakeHub([{ status: 200 }]);
    try {
      const bin = toolDir('neither', BASE_TOOLS);
      const { code, stderr } = await run(baseEnv(hub.url, bin), [process.execPath, TRIVIAL_SERVER]).exited;
      assert.equal(code, 1);
      assert.match(stderr, /needs curl or python3/);
      assert.equal(hub.requests.length, 0);
    } finally {
      await hub.close();
    }
  });

  for (const tool of ['curl', 'python3'] as const) {
    it(`(${tool}) a refusal (403) fails at once: exit 1, the hub's message on stderr, the server not run`, async () => {
      const hub = await fakeHub([{ status: 403, body: { status: 403, message: 'Invalid or expired token' } }]);
      try {
        const bin = toolDir(`refused-${tool}`, [...BASE_TOOLS, tool]);
        const marker = path.join(tmp, `ran-${tool}`);
        const { code, stderr } = await run(baseEnv(hub.url, bin), [process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`]).exited;
        assert.equal(code, 1);
        assert.match(stderr, /the hub refused the port report \(HTTP 403\).*Invalid or expired token/);
        assert.equal(hub.requests.length, 1, 'no retry after a refusal');
        assert.ok(!existsSync(marker), 'the server command ran');
        assert.ok(!stderr.includes(token), 'the token is in the message');
      } finally {
        await hub.close();
      }
    });

    it(`(${tool}) a hub answering 503 is retried, then the report goes through`, async () => {
      const hub = await fakeHub([{ status: 503, body: { status: 503, message: 'shutting down' } }, { status: 200 }]);
      try {
        const bin = toolDir(`retry-${tool}`, [...BASE_TOOLS, tool]);
        const { child } = run(baseEnv(hub.url, bin, { GANYMEDE_SINGLEUSER_REPORT_ATTEMPTS: '3' }), [process.execPath, TRIVIAL_SERVER]);
        for (let i = 0; i < 200 && hub.requests.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
        assert.equal(hub.requests.length, 2);
        const port = (JSON.parse(hub.requests[1]!.body) as { port: number }).port;
        assert.equal((JSON.parse(hub.requests[0]!.body) as { port: number }).port, port, 'the same port both times');
        await answers(`http://127.0.0.1:${port}/user/tess/`);
        child.kill('SIGTERM');
      } finally {
        await hub.close();
      }
    });
  }

  it('an https hub API with internal SSL: the CA and a client certificate from JUPYTERHUB_SSL_* (curl and python3)', { skip: realTool('openssl') ? false : 'openssl is not installed' }, async () => {
    const dir = path.join(tmp, 'ssl');
    execFileSync('mkdir', ['-p', dir]);
    const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test internal CA');
    for (const [name, ext] of [['hub', 'subjectAltName=IP:127.0.0.1'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
      ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      writeFileSync(path.join(dir, `${name}.ext`), `${ext}\n`);
      ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
    }
    const read = (f: string) => readFileSync(path.join(dir, f));
    const seen: { port: number; authorized: boolean }[] = [];
    const server = https.createServer({ key: read('hub.key'), cert: read('hub.crt'), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ port: (JSON.parse(body) as { port: number }).port, authorized: (req.socket as import('node:tls').TLSSocket).authorized });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"message": "ok"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const apiUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hub/api`;
      const ssl = { JUPYTERHUB_SSL_CLIENT_CA: path.join(dir, 'ca.crt'), JUPYTERHUB_SSL_CERTFILE: path.join(dir, 'client.crt'), JUPYTERHUB_SSL_KEYFILE: path.join(dir, 'client.key') };
      for (const tool of ['curl', 'python3'] as const) {
        const bin = toolDir(`ssl-${tool}`, [...BASE_TOOLS, tool]);
        const ok = await run(baseEnv(apiUrl, bin, ssl), ['/bin/true']).exited;
        assert.equal(ok.code, 0, `${tool}: ${ok.stderr}`);
        assert.deepEqual(seen.at(-1)?.authorized, true);
        // without the CA the hub's certificate is not trusted: no answer, retried, then a failure
        const untrusted = await run(baseEnv(apiUrl, bin, { GANYMEDE_SINGLEUSER_REPORT_ATTEMPTS: '1' }), ['/bin/true']).exited;
        assert.equal(untrusted.code, 1, `${tool} trusted an unknown CA`);
        assert.match(untrusted.stderr, /could not report port .* after 1 attempts \(last: HTTP 000\)/);
      }
      assert.equal(seen.length, 2);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('an unreachable hub: retried GANYMEDE_SINGLEUSER_REPORT_ATTEMPTS times, then exit 1 naming the URL', async () => {
    const hub = await fakeHub([{ status: 200 }]);
    const url = hub.url;
    await hub.close();
    const bin = toolDir('unreachable', [...BASE_TOOLS, 'curl']);
    const started = Date.now();
    const { code, stderr } = await run(baseEnv(url, bin, { GANYMEDE_SINGLEUSER_REPORT_ATTEMPTS: '2' }), [process.execPath, TRIVIAL_SERVER]).exited;
    assert.equal(code, 1);
    assert.match(stderr, /retrying in 1s/);
    assert.ok(stderr.includes(`could not report port`) && stderr.includes(`${url}/batchspawner after 2 attempts`), stderr);
    assert.ok(Date.now() - started < 15_000);
  });

  it('bad settings are refused before anything is sent: no token, a token with a quote, a service URL without http', async () => {
    const hub = await fakeHub([{ status: 200 }]);
    try {
      const bin = toolDir('settings', [...BASE_TOOLS, 'curl']);
      const cases: [Record<string, string>, RegExp][] = [
        [{ JUPYTERHUB_API_TOKEN: '' }, /JUPYTERHUB_API_TOKEN is not set/],
        [{ JUPYTERHUB_API_TOKEN: 'abc"\nurl = "http://evil/' }, /characters a hub token does not have/],
        [{ JUPYTERHUB_API_URL: 'file:///etc/passwd' }, /JUPYTERHUB_API_URL is not an http\(s\) URL/],
        [{ JUPYTERHUB_SERVICE_URL: 'ftp://x:0/' }, /JUPYTERHUB_SERVICE_URL is not an http\(s\) URL/],
        [{ GANYMEDE_SINGLEUSER_PORT: '70000' }, /GANYMEDE_SINGLEUSER_PORT must be a port/],
      ];
      for (const [extra, message] of cases) {
        const { code, stderr } = await run(baseEnv(hub.url, bin, extra), [process.execPath, TRIVIAL_SERVER]).exited;
        assert.equal(code, 1, JSON.stringify(extra));
        assert.match(stderr, message);
      }
      const missing = await run(baseEnv(hub.url, bin), ['no-such-server-command']).exited;
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot run "?no-such-server-command"?: not found/);
      assert.equal(hub.requests.length, 0);
    } finally {
      await hub.close();
    }
  });

  it('the token is on no command line: curl gets it on stdin (a recording curl shows its argv), and ps never shows it', async () => {
    const hub = await fakeHub([{ status: 200, delayMs: 1500 }]);
    try {
      const bin = toolDir('recording', BASE_TOOLS);
      const log = path.join(tmp, 'curl-argv');
      const realCurl = realTool('curl')!;
      // a curl that records its arguments and standard input, then runs the real one with the same input
      writeFileSync(
        path.join(bin, 'curl'),
        `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${JSON.stringify(log)}\nstdin=$(cat)\nprintf '%s\\n' "$stdin" > ${JSON.stringify(`${log}.stdin`)}\nprintf '%s\\n' "$stdin" | ${realCurl} "$@"\n`,
        { mode: 0o755 },
      );
      const { child } = run(baseEnv(hub.url, bin), [process.execPath, TRIVIAL_SERVER]);
      // while the hub holds the report, every process's arguments
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        seen.push(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }));
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 0; i < 100 && hub.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(hub.requests[0]?.headers.authorization, `token ${token}`);
      assert.ok(seen.some((s) => s.includes('batchspawner')), 'ps never saw curl running');
      assert.ok(!seen.some((s) => s.includes(token)), 'the token showed in ps');
      const argv = readFileSync(log, 'utf8');
      assert.ok(argv.includes('--config\n-\n'), argv);
      assert.ok(!argv.includes(token), 'the token is in curl\'s argv');
      assert.ok(argv.startsWith('-q\n'), 'curl must not read ~/.curlrc (-q first)');
      assert.equal(readFileSync(`${log}.stdin`, 'utf8'), `header = "Authorization: token ${token}"\n`);
      const port = (JSON.parse(hub.requests[0]!.body) as { port: number }).port;
      await answers(`http://127.0.0.1:${port}/user/tess/`);
      child.kill('SIGTERM');
    } finally {
      await hub.close();
    }
  });

  it('python3 path: the token is on no command line either (ps while the hub holds the report)', async () => {
    const hub = await fakeHub([{ status: 200, delayMs: 1500 }]);
    try {
      const bin = toolDir('ps-python', [...BASE_TOOLS, 'python3']);
      const { child } = run(baseEnv(hub.url, bin), [process.execPath, TRIVIAL_SERVER]);
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        seen.push(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }));
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 0; i < 100 && hub.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(hub.requests[0]?.headers.authorization, `token ${token}`);
      assert.ok(seen.some((s) => s.includes('/batchspawner')), 'ps never saw python3 running');
      assert.ok(!seen.some((s) => s.includes(token)), 'the token showed in ps');
      const port = (JSON.parse(hub.requests[0]!.body) as { port: number }).port;
      await answers(`http://127.0.0.1:${port}/user/tess/`);
      child.kill('SIGTERM');
    } finally {
      await hub.close();
    }
  });

  it('the service URL keeps its scheme, host and path; an IPv6 host keeps its brackets; unset, it binds 0.0.0.0 under the prefix', async () => {
    const hub = await fakeHub([{ status: 200 }]);
    try {
      const bin = toolDir('url', [...BASE_TOOLS, 'curl']);
      const show = ['/bin/sh', '-c', 'printf "%s|%s" "$JUPYTERHUB_SERVICE_URL" "$1"', 'show'];
      const cases: [Record<string, string>, RegExp][] = [
        [{ JUPYTERHUB_SERVICE_URL: 'https://node17.cluster:0/user/a%20b/' }, /^https:\/\/node17\.cluster:(\d+)\/user\/a%20b\/\|--port=(\d+)$/],
        [{ JUPYTERHUB_SERVICE_URL: 'http://[::1]:8888/x/' }, /^http:\/\/\[::1\]:(\d+)\/x\/\|--port=(\d+)$/],
        [{ JUPYTERHUB_SERVICE_URL: '', JUPYTERHUB_SERVICE_PREFIX: '/user/tess/' }, /^http:\/\/0\.0\.0\.0:(\d+)\/user\/tess\/\|--port=(\d+)$/],
        [{ JUPYTERHUB_SERVICE_URL: 'http://10.1.2.3:0/', GANYMEDE_SINGLEUSER_PORT: '4321' }, /^http:\/\/10\.1\.2\.3:(4321)\/\|--port=(4321)$/],
      ];
      for (const [extra, shape] of cases) {
        const { code, stdout, stderr } = await run(baseEnv(hub.url, bin, extra), show).exited;
        assert.equal(code, 0, stderr);
        const m = shape.exec(stdout);
        assert.ok(m, `${JSON.stringify(extra)} gave ${stdout}`);
        assert.equal(m[1], m[2]);
        assert.equal((JSON.parse(hub.requests.at(-1)!.body) as { port: number }).port, Number(m[1]));
      }
    } finally {
      await hub.close();
    }
  });

  // Both ways of picking stay in the range (below the ephemeral ports, which outgoing connections take)
  for (const tool of ['curl', 'python3'] as const) {
    const title =
      tool === 'curl' ? 'without python3 the port is one no socket of this machine uses, from GANYMEDE_SINGLEUSER_PORT_RANGE' : 'with python3 the port is one it can bind, from GANYMEDE_SINGLEUSER_PORT_RANGE';
    it(title, async () => {
      const hub = await fakeHub([{ status: 200 }]);
      // occupy every port of a small range but the last (a range whose 7 ports are all free now)
      const held: http.Server[] = [];
      const bind = (p: number) =>
        new Promise<http.Server | undefined>((resolve) => {
          const s = http.createServer();
          s.once('error', () => resolve(undefined));
          s.listen(p, '127.0.0.1', () => resolve(s));
        });
      let low = 0;
      try {
        for (let attempt = 0; attempt < 20 && !low; attempt++) {
          const start = 20000 + Math.floor(Math.random() * 12000);
          const got = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((i) => bind(start + i)));
          if (got.every((s) => s)) {
            low = start;
            held.push(...(got.slice(0, 6) as http.Server[]));
            await new Promise((r) => got[6]!.close(r));
          } else for (const s of got) s?.close();
        }
        assert.ok(low, 'found no 7 free ports in a row');
        const last = low + 6;
        const bin = toolDir(`range-${tool}`, [...BASE_TOOLS, tool]);
        for (let i = 0; i < 5; i++) {
          const { code, stdout, stderr } = await run(baseEnv(hub.url, bin, { GANYMEDE_SINGLEUSER_PORT_RANGE: `${low}-${last}` }), ['/bin/sh', '-c', 'printf "%s" "$1"', 'show']).exited;
          assert.equal(code, 0, stderr);
          assert.equal(stdout, `--port=${last}`, `run ${i}`);
        }
        const { code, stderr } = await run(baseEnv(hub.url, bin, { GANYMEDE_SINGLEUSER_PORT_RANGE: `${low}-${low + 1}` }), ['/bin/true']).exited;
        assert.equal(code, 1);
        assert.match(stderr, /found no free port/);
      } finally {
        for (const s of held) s.close();
        await hub.close();
      }
    });
  }

  describe('with the real hub', () => {
    let t: TestHub;
    let spawner: ReportingSpawner;

    before(async () => {
      spawner = reportingSpawner({ command: ['/bin/false'] });
      // (Jupyter's runtime files and IPython's profile in the test's own directory)
      t = await startTestHub({ http_timeout: 30, environment: { JUPYTER_RUNTIME_DIR: path.join(tmp, 'jupyter-runtime'), IPYTHONDIR: path.join(tmp, 'ipython') } }, { spawner });
    });
    after(async () => {
      await t?.stop();
      await spawner?.killAll();
    });

    async function spawnAndReach(user: string, check: (res: Response) => Promise<void>): Promise<number> {
      const row = await ensureUser(t.hub.db, user);
      const { done } = await t.hub.servers.requestSpawn(row, '', undefined);
      await done;
      const server = (await getServer(t.hub.db, row.id, ''))!;
      assert.equal(server.ready, 1, `not ready: ${spawner.stderr}`);
      const port = server.reported_port!;
      assert.equal(server.url, `http://127.0.0.1:${port}`);
      await check(await fetch(`${t.publicUrl}/user/${user}/api`, { redirect: 'manual' }));
      await t.hub.servers.stop(row, '');
      return port;
    }

    it('wrapping the trivial server: the spawn completes on the reported port, reached through the proxy', async () => {
      spawner.command = ['/bin/sh', LAUNCHER, process.execPath, TRIVIAL_SERVER];
      const port = await spawnAndReach('uma', async (res) => {
        assert.equal(res.status, 200);
        const self = (await res.json()) as { argv: string[]; user: string };
        assert.equal(self.user, 'uma');
        assert.match(self.argv.join(' '), /--port=\d+/);
      });
      assert.equal(spawner.reportedPorts.at(-1), port);
      assert.match(spawner.stderr, new RegExp(`reported port ${port} to the hub`));
    });

    it("the real hub's refusals end the launcher: a running server's token (409), a made-up token (403)", async () => {
      spawner.command = ['/bin/sh', LAUNCHER, process.execPath, TRIVIAL_SERVER];
      const row = await ensureUser(t.hub.db, 'walt');
      const { done } = await t.hub.servers.requestSpawn(row, '', undefined);
      await done;
      const env = spawner.calls.at(-1)!.request.env;
      const again = await run({ ...env, JUPYTERHUB_SERVICE_URL: 'http://127.0.0.1:0/user/walt/' }, [process.execPath, TRIVIAL_SERVER]).exited;
      assert.equal(again.code, 1);
      assert.match(again.stderr, /the hub refused the port report \(HTTP 409\).*walt's server is not starting/);
      const forged = await run({ ...env, JUPYTERHUB_API_TOKEN: randomBytes(16).toString('hex') }, [process.execPath, TRIVIAL_SERVER]).exited;
      assert.equal(forged.code, 1);
      assert.match(forged.stderr, /the hub refused the port report \(HTTP 403\).*Invalid or expired token/);
      await t.hub.servers.stop(row, '');
    });

    it('wrapping the real jupyterhub-singleuser (Debian jupyterhub): the hub reaches it', { skip: existsSync(SINGLEUSER) ? false : `${SINGLEUSER} is not installed` }, async () => {
      // as root (CI), Jupyter refuses to start without --allow-root
      spawner.command = ['/bin/sh', LAUNCHER, SINGLEUSER, ...(process.getuid?.() === 0 ? ['--allow-root'] : [])];
      await spawnAndReach('vera', async (res) => {
        assert.equal(res.status, 200);
        const body = (await res.json()) as { version?: string };
        assert.ok(body.version, `jupyter server's /api answered ${JSON.stringify(body)}`);
      });
    });
  });
});
