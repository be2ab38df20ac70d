/**
 * The spawner contract (spawner-conformance.ts) over every backend. A new
 * backend adds one entry to BACKENDS: how to build it, how to kill a server
 * behind its state, and when it cannot run here.
 */
import process from 'node:process';
import { validateConfig } from '../../src/config/load.js';
import { LocalProcessSpawnerSchema } from '../../src/config/schema.js';
import { createSpawner } from '../../src/spawners/registry.js';
import type { SpawnerDeps, SpawnerState } from '../../src/spawners/spawner.js';
import os from 'node:os';
import pino from 'pino';
import { TRIVIAL_SERVER } from '../helpers/hub.js';
import { trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { spawnerConformance, type SpawnerBackend } from './spawner-conformance.js';

/** Kills a process group (local servers run in their own), else the process. */
function killPid(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function killAndWait(state: SpawnerState): Promise<void> {
  const pid = Number(state['pid']);
  if (!pid) return;
  killPid(pid);
  await new Promise((r) => setTimeout(r, 100));
}

/**
 * The local-process spawner as `serve` builds it from config, running the
 * trivial server. Where the spawner has `run_as` (isolation, issue 9), the
 * suite runs servers as the hub's own account: the contract is the same.
 */
/** What a back-end is built with, as the hub builds it (src/spawners/backends.ts). */
function spawnerDeps(): SpawnerDeps {
  return { log: pino({ level: 'silent' }), name: 'default', now: Date.now, fetch: globalThis.fetch, dataDir: os.tmpdir() };
}

function localProcess(): SpawnerBackend {
  const spawner: Record<string, unknown> = { kind: 'local-process', cmd: [process.execPath, TRIVIAL_SERVER] };
  if ('run_as' in LocalProcessSpawnerSchema.properties) spawner['run_as'] = 'hub';
  return {
    name: 'local-process',
    create: () => createSpawner(validateConfig({ spawner }).spawner, spawnerDeps()),
    kill: killAndWait,
  };
}

/** The test doubles (test/helpers/spawner-doubles.ts) must behave as a backend does, or tests built on them prove little. */
function trivialDouble(): SpawnerBackend {
  const made: TrivialSpawner[] = [];
  return {
    name: 'trivial-double (test helper)',
    create: () => {
      const s = trivialSpawner();
      made.push(s);
      return s;
    },
    kill: killAndWait,
    cleanup: async () => {
      for (const s of made) await s.killAll();
    },
  };
}

const BACKENDS: SpawnerBackend[] = [localProcess(), trivialDouble()];

for (const backend of BACKENDS) spawnerConformance(backend);
