/**
 * Soak test of the built-in proxy, run as its own process so that its open
 * file descriptors and its resident memory are its own (it runs with
 * `--inspect` so the test can ask for a full GC before reading VmRSS): three identical
 * rounds of 100,000 keep-alive HTTP requests and 2,000 websocket
 * open → send → echo → close cycles. After each round the proxy must be back
 * to the descriptors it had before the load, and its RSS must not keep growing.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import autocannon from 'autocannon';
import { WebSocket, WebSocketServer } from 'ws';
import { PROXY_NODE_FLAGS } from '../../src/hub/proxy-process.js';
import { freePort, sleep, waitFor } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../src/proxy/builtin/main.ts', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/ganymede.js', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../dist/ganymede-proxy.mjs', import.meta.url));
const PROXY_SRC = fileURLToPath(new URL('../../src/proxy/builtin/', import.meta.url));

/**
 * How to run the proxy: the built bundle as the hub runs it (`npm test` builds
 * first), or from source with tsx when the bundle is missing or older than the
 * proxy's sources (tsx adds memory of its own, so the RSS figures are higher).
 */
function proxyCommand(): { args: string[]; from: string } {
  const newestSource = Math.max(...readdirSync(PROXY_SRC).map((f) => statSync(PROXY_SRC + f).mtimeMs));
  if (existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= newestSource) return { args: [...PROXY_NODE_FLAGS, BIN, 'proxy'], from: 'dist/ (the build)' };
  return { args: [...PROXY_NODE_FLAGS, '--import', 'tsx', MAIN], from: 'source, with tsx (dist/ is missing or stale)' };
}
const TOKEN = 'soak-token';
const HTTP_REQUESTS = 100_000;
const HTTP_CONNECTIONS = 50;
const WS_CYCLES = 2_000;
const WS_PARALLEL = 8;
const ROUNDS = 3;

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A call to the proxy API on a connection of its own, closed after the answer (so the proxy's fd count settles). */
function apiCall(port: number, method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path: `/api/routes${path}`, agent: false, timeout: 2_000, headers: { Authorization: `token ${TOKEN}`, ...(payload ? { 'Content-Type': 'application/json' } : {}) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`proxy API ${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** One websocket open → send → echo → close cycle. */
function wsCycle(url: string, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const text = `soak ${n}`;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`websocket cycle ${n} timed out`));
    }, 5_000);
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.once('open', () => ws.send(text));
    ws.once('message', (data: Buffer) => {
      if (data.toString('utf8') !== text) {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`websocket cycle ${n}: echo was ${data.toString('utf8')}`));
        return;
      }
      ws.close(1000);
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function wsRound(url: string): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < WS_CYCLES) await wsCycle(url, next++);
  };
  await Promise.all(Array.from({ length: WS_PARALLEL }, worker));
}

/**
 * A full garbage collection in the child, through its inspector, so that RSS
 * is compared after the same kind of collection every round (not at whatever
 * point V8's young generation happened to be).
 */
async function collectGarbage(inspectorUrl: string): Promise<void> {
  const ws = new WebSocket(inspectorUrl);
  try {
    await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5_000, 'the inspector to connect');
    for (let id = 1; id <= 2; id++) {
      const answered = new Promise<void>((resolve) => {
        const onMessage = (data: Buffer): void => {
          if ((JSON.parse(data.toString('utf8')) as { id?: number }).id === id) {
            ws.off('message', onMessage);
            resolve();
          }
        };
        ws.on('message', onMessage);
      });
      ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      await withTimeout(answered, 10_000, 'a garbage collection in the proxy');
    }
  } finally {
    ws.terminate();
  }
}

describe('proxy soak (child process)', () => {
  let child: ChildProcess | undefined;
  let pid: number;
  let publicPort: number;
  let httpBackend: http.Server;
  let wsBackend: http.Server;
  let wss: WebSocketServer;
  let stderr = '';
  let runFrom = '';
  let inspectorUrl: string | undefined;

  before(async () => {
    httpBackend = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
        res.end('ok');
      });
    });
    wsBackend = http.createServer((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    wss = new WebSocketServer({ server: wsBackend });
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
    await Promise.all([httpBackend, wsBackend].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));

    publicPort = await freePort();
    const apiPort = await freePort();
    const command = proxyCommand();
    runFrom = command.from;
    const proc = spawn(
      process.execPath,
      ['--inspect=127.0.0.1:0', ...command.args, '--ip', '127.0.0.1', '--port', String(publicPort), '--api-ip', '127.0.0.1', '--api-port', String(apiPort), '--log-level', 'warn'],
      { env: { ...process.env, CONFIGPROXY_AUTH_TOKEN: TOKEN }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    proc.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-4000);
    });
    pid = proc.pid!;
    await waitFor(async () => {
      inspectorUrl = /Debugger listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
      return inspectorUrl !== undefined;
    }, 20_000, "the proxy's inspector URL");
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`the proxy exited (${proc.exitCode}): ${stderr}`);
      return (await apiCall(apiPort, 'GET', '')) === 200;
    }, 20_000, 'the proxy API');
    const routes: Record<string, number> = {
      '/http': (httpBackend.address() as AddressInfo).port,
      '/ws': (wsBackend.address() as AddressInfo).port,
    };
    for (const [path, port] of Object.entries(routes)) {
      assert.equal(await apiCall(apiPort, 'POST', path, { target: `http://127.0.0.1:${port}` }), 201);
    }
  });

  after(async () => {
    const proc = child;
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await withTimeout(exited, 5_000, 'the proxy to exit').catch(() => proc.kill('SIGKILL'));
    }
    wss.close();
    for (const s of [httpBackend, wsBackend]) {
      if (!s.listening) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  it(`stays flat over ${ROUNDS} rounds of ${HTTP_REQUESTS} HTTP requests and ${WS_CYCLES} websocket cycles`, { timeout: 110_000 }, async () => {
    const t0 = Date.now();
    // The last API connection closes asynchronously: take the count once it holds still (at most 3 s).
    let fdsBefore = fdCount(pid);
    for (let still = 0, tries = 0; still < 3 && tries < 30; tries++) {
      await sleep(100);
      const now = fdCount(pid);
      still = now === fdsBefore ? still + 1 : 0;
      fdsBefore = now;
    }
    const rss: number[] = [];
    await collectGarbage(inspectorUrl!);
    const figures: string[] = [`proxy pid ${pid} (from ${runFrom}): ${fdsBefore} fds, VmRSS ${rssKiB(pid)} kB (after a full GC) before the load`];
    for (let round = 1; round <= ROUNDS; round++) {
      const tRound = Date.now();
      const result = await withTimeout(
        autocannon({ url: `http://127.0.0.1:${publicPort}/http/soak`, connections: HTTP_CONNECTIONS, amount: HTTP_REQUESTS, timeout: 10 }),
        60_000,
        `round ${round}: HTTP load`,
      );
      const httpMs = Date.now() - tRound;
      assert.equal(result.errors, 0, `round ${round}: ${result.errors} connection errors`);
      assert.equal(result['2xx'], HTTP_REQUESTS, `round ${round}: ${result['2xx']} of ${HTTP_REQUESTS} answered 2xx (non-2xx: ${result.non2xx})`);
      const tWs = Date.now();
      await withTimeout(wsRound(`ws://127.0.0.1:${publicPort}/ws/echo`), 30_000, `round ${round}: websocket cycles`);
      const wsMs = Date.now() - tWs;
      // The proxy keeps idle keep-alive connections to the backend; the backend drops them, as it would after its timeout.
      httpBackend.closeIdleConnections();
      let fds = fdCount(pid);
      await waitFor(async () => (fds = fdCount(pid)) <= fdsBefore, 5_000, `round ${round}: the proxy's fds to return to ${fdsBefore}`).catch(() => undefined);
      const rssRaw = rssKiB(pid);
      await collectGarbage(inspectorUrl!);
      rss.push(rssKiB(pid));
      figures.push(
        `round ${round}: HTTP ${HTTP_REQUESTS} req in ${httpMs} ms (${Math.round(HTTP_REQUESTS / (httpMs / 1000))} req/s), ` +
          `${WS_CYCLES} ws cycles in ${wsMs} ms; fds ${fds} (before ${fdsBefore}); VmRSS ${rssRaw} kB, ${rss[round - 1]} kB after a full GC`,
      );
      assert.ok(fds <= fdsBefore, `round ${round}: the proxy has ${fds} open fds, ${fdsBefore} before the load`);
    }
    const ratio = rss[ROUNDS - 1]! / rss[0]!;
    figures.push(`RSS round ${ROUNDS} / round 1 = ${ratio.toFixed(3)}; total ${Date.now() - t0} ms`);
    for (const line of figures) process.stdout.write(`soak: ${line}\n`);
    assert.ok(ratio <= 1.1, `VmRSS (after a full GC) grew from ${rss[0]} kB after round 1 to ${rss[ROUNDS - 1]} kB after round ${ROUNDS}`);
  });
});
