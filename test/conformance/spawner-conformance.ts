/**
 * The contract every spawner backend must meet, as one suite run over each
 * backend (Kysely's DIALECTS pattern): see {@link spawnerConformance}. A new
 * backend (batch, FirecREST, Kubernetes) adds one {@link SpawnerBackend} to
 * the list in test/conformance/spawner.test.ts.
 *
 * The server a backend runs for this suite must be the trivial server
 * (test/fixtures/trivial-server.mjs) or answer as it does: 200 JSON at
 * `<url><prefix>api` naming `user` and `api_token_sha256`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { hubUrls } from '../../src/hub/app.js';
import { buildServerEnv } from '../../src/hub/spawn-env.js';
import type { ProgressEvent, SpawnRequest, Spawner, SpawnerState, StartResult } from '../../src/spawners/spawner.js';
import { testHubConfig } from '../helpers/hub.js';

/** One backend under test. */
export interface SpawnerBackend {
  /** Shown in test names, e.g. `local-process`. */
  name: string;
  /** A reason to skip the whole suite here (e.g. "no Slurm installed"), or undefined to run it. */
  unavailable?(): Promise<string | undefined> | string | undefined;
  /** A fresh spawner instance; the suite makes several and hands state from one to another. */
  create(): Spawner | Promise<Spawner>;
  /** Ends the server behind `state` as a crash would (kill -9, a job cancelled, a pod deleted). */
  kill(state: SpawnerState): Promise<void>;
  /** How long a start may take on this backend (default 20 s). */
  startTimeoutMs?: number;
  /** Runs after the suite: remove what the backend left (processes, jobs). */
  cleanup?(): Promise<void>;
}

interface Started {
  result: StartResult;
  /** Every state passed to saveState, in order. */
  saved: SpawnerState[];
  /** How many saveState calls had completed when `start` resolved. */
  savedBeforeResolve: number;
  prefix: string;
  token: string;
  user: string;
}

const silent = pino({ level: 'silent' });
let counter = 0;

/** A spawn request as the hub builds it (the real environment of spawn-env.ts), recording saved state. */
function spawnRequest(workRoot: string, signal: AbortSignal, track: (state: SpawnerState) => void): { req: SpawnRequest; saved: SpawnerState[]; events: ProgressEvent[]; user: string; token: string; prefix: string } {
  const user = `conformance${++counter}`;
  const token = randomBytes(24).toString('hex');
  const config = testHubConfig(workRoot, 8081);
  const env = buildServerEnv({ config, urls: hubUrls(config), user, serverName: '', apiToken: token });
  const saved: SpawnerState[] = [];
  const events: ProgressEvent[] = [];
  const workDir = mkdtempSync(path.join(workRoot, `${user}-`));
  const req: SpawnRequest = {
    user: { name: user, admin: false, groups: [] },
    serverName: '',
    backend: 'default',
    env,
    userOptions: {},
    reportedPort: async () => undefined,
    workDir,
    log: silent,
    saveState: async (s) => {
      // what the hub does with it: store it as JSON
      saved.push(JSON.parse(JSON.stringify(s)) as SpawnerState);
      track(s);
    },
    progress: (e) => events.push(e),
    signal,
  };
  return { req, saved, events, user, token, prefix: env['JUPYTERHUB_SERVICE_PREFIX']! };
}

async function answers(url: string): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** Polls `url` until it answers (a started server may take a moment to listen). */
async function waitAnswer(url: string, ms: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const end = Date.now() + ms;
  for (;;) {
    const a = await answers(url);
    if (a) return a;
    if (Date.now() > end) assert.fail(`${url} did not answer within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Settles `p` or fails the test after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the spawner contract against `backend`. */
export function spawnerConformance(backend: SpawnerBackend): void {
  describe(`spawner conformance: ${backend.name}`, () => {
    let skip: string | undefined;
    let workRoot = '';
    // every state any start saved or returned: stopped after the suite, whatever failed
    const live: SpawnerState[] = [];
    const track = (state: SpawnerState) => live.push(state);
    const startMs = backend.startTimeoutMs ?? 20_000;

    const start = async (spawner: Spawner): Promise<Started> => {
      const ctl = new AbortController();
      const { req, saved, user, token, prefix } = spawnRequest(workRoot, ctl.signal, track);
      const result = await within(spawner.start(req), startMs, 'start');
      const savedBeforeResolve = saved.length;
      track(result.state);
      return { result, saved, savedBeforeResolve, prefix, token, user };
    };

    before(async () => {
      skip = await backend.unavailable?.();
      workRoot = mkdtempSync(path.join(os.tmpdir(), 'ganymede-conformance-'));
    });
    after(async () => {
      const spawner = await backend.create();
      for (const state of live) await spawner.stop(state, { log: silent }).catch(() => undefined);
      await backend.cleanup?.();
      rmSync(workRoot, { recursive: true, force: true });
    });

    it('poll says stopped for a server never started (empty state, or a bare version)', async (t) => {
      if (skip) return t.skip(skip);
      const spawner = await backend.create();
      assert.equal((await spawner.poll({} as SpawnerState, { log: silent })).status, 'stopped');
      assert.equal((await spawner.poll({ v: 1 }, { log: silent })).status, 'stopped');
    });

    it('start returns a URL that answers at the prefix, after saving state that polls as running', async (t) => {
      if (skip) return t.skip(skip);
      const spawner = await backend.create();
      const s = await start(spawner);
      assert.match(s.result.url, /^https?:\/\/[^/]+$/, 'the URL is scheme://host:port, without a path');
      const a = await waitAnswer(`${s.result.url}${s.prefix}api`, startMs);
      assert.equal(a.status, 200);
      assert.ok(s.savedBeforeResolve >= 1, 'saveState was not called before start resolved');
      assert.equal((await spawner.poll(s.saved.at(-1)!, { log: silent })).status, 'running', 'the state saved before start resolved does not find the server');
      assert.equal((await spawner.poll(s.result.state, { log: silent })).status, 'running');
    });

    it('passes the environment through: the server sees its user and API token', async (t) => {
      if (skip) return t.skip(skip);
      const spawner = await backend.create();
      const s = await start(spawner);
      const a = await waitAnswer(`${s.result.url}${s.prefix}api`, startMs);
      assert.equal(a.body['user'], s.user);
      assert.equal(a.body['api_token_sha256'], createHash('sha256').update(s.token).digest('hex'), 'JUPYTERHUB_API_TOKEN did not reach the server');
    });

    it('state is JSON, versioned, and survives a round trip: a fresh instance polls and stops the server', async (t) => {
      if (skip) return t.skip(skip);
      const s = await start(await backend.create());
      const state = s.result.state;
      assert.equal(typeof state.v, 'number', 'state has no numeric version `v`');
      assert.ok(state.v >= 1);
      const json = JSON.stringify(state);
      const back = JSON.parse(json) as SpawnerState;
      assert.deepEqual(back, state, 'state does not survive JSON');
      const fresh = await backend.create();
      assert.equal((await fresh.poll(back, { log: silent })).status, 'running');
      await within(fresh.stop(back, { log: silent }), 15_000, 'stop');
      assert.equal((await fresh.poll(back, { log: silent })).status, 'stopped');
      assert.equal(await answers(`${s.result.url}${s.prefix}api`), undefined, 'the server still answers after stop');
    });

    it('stop is idempotent: twice, on a state never started, after the server died', async (t) => {
      if (skip) return t.skip(skip);
      const spawner = await backend.create();
      await spawner.stop({} as SpawnerState, { log: silent });
      await spawner.stop({ v: 1 }, { log: silent });
      const s = await start(spawner);
      await within(spawner.stop(s.result.state, { log: silent }), 15_000, 'stop');
      await within(spawner.stop(s.result.state, { log: silent }), 15_000, 'a second stop');
      assert.equal((await spawner.poll(s.result.state, { log: silent })).status, 'stopped');
      const d = await start(spawner);
      await waitAnswer(`${d.result.url}${d.prefix}api`, startMs);
      await backend.kill(d.result.state);
      await within(spawner.stop(d.result.state, { log: silent }), 15_000, 'stop after the server died');
      assert.equal((await spawner.poll(d.result.state, { log: silent })).status, 'stopped');
    });

    it('poll says stopped once the server died by itself', async (t) => {
      if (skip) return t.skip(skip);
      const spawner = await backend.create();
      const s = await start(spawner);
      await waitAnswer(`${s.result.url}${s.prefix}api`, startMs);
      await backend.kill(s.result.state);
      const end = Date.now() + 10_000;
      while ((await spawner.poll(s.result.state, { log: silent })).status !== 'stopped') {
        if (Date.now() > end) assert.fail('poll still says running 10 s after the server was killed');
        await new Promise((r) => setTimeout(r, 100));
      }
    });

    it('start honours an aborted signal: it rejects and leaves nothing running', async (t) => {
      if (skip) return t.skip(skip);
      const spawner = await backend.create();
      const ctl = new AbortController();
      ctl.abort();
      const { req, saved } = spawnRequest(workRoot, ctl.signal, track);
      await assert.rejects(
        within(
          spawner.start(req).then((r) => {
            track(r.state);
            return r;
          }),
          startMs,
          'start with an aborted signal',
        ),
      );
      for (const state of saved) assert.equal((await spawner.poll(state, { log: silent })).status, 'stopped', 'a start refused for its aborted signal left a server running');
    });

    it('start settles promptly when aborted while starting; what it saved can be stopped', async (t) => {
      if (skip) return t.skip(skip);
      const spawner = await backend.create();
      const ctl = new AbortController();
      const { req, saved } = spawnRequest(workRoot, ctl.signal, track);
      const starting = spawner.start(req).then((r) => {
        track(r.state);
        return r;
      });
      setImmediate(() => ctl.abort());
      let result: StartResult | undefined;
      try {
        result = await within(starting, startMs, 'start aborted while starting');
      } catch (err) {
        if ((err as Error).message.includes('took longer than')) throw err;
      }
      // the hub stops whatever state it was given, either way
      const states = result ? [result.state, ...saved] : saved;
      for (const state of states) {
        await within(spawner.stop(state, { log: silent }), 15_000, 'stop after an aborted start');
        assert.equal((await spawner.poll(state, { log: silent })).status, 'stopped');
      }
    });
  });
}
