/**
 * Issue 11 (review): with per-user wrappers (no `batch_query_all_cmd`) the
 * batch back-end has no `pollMany`, so the hub's poll loop polls its servers
 * one by one spread over the interval (server-manager.ts pollRound) instead
 * of running every job's query back to back at the start of a round (a
 * thousand servers meant a burst of a thousand commands, and a round longer
 * than the poll timeout). With `batch_query_all_cmd` it has one, answering
 * every server from one command; a job that command does not list is
 * asked on its own before it counts as gone (a listing that cannot see
 * every job, e.g. Slurm's `PrivateData=jobs`, must not clear running
 * servers).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import type { BatchSpawner } from '../../src/spawners/batch/batch-spawner.js';
import { createSpawner } from '../../src/spawners/registry.js';

const log = pino({ level: 'silent' });
const work = mkdtempSync(path.join(os.tmpdir(), 'ganymede-poll-spread-'));
after(() => rmSync(work, { recursive: true, force: true }));
const calls = path.join(work, 'calls');

function spawner(extra: Record<string, unknown>): BatchSpawner {
  return createSpawner(
    validateConfig({ spawner: { kind: 'slurm', exec_prefix: '', batch_query_cmd: `echo q >> ${calls}; echo 'RUNNING vm'`, ...extra } }).spawner,
    { log, name: 'c', now: Date.now, fetch: globalThis.fetch, dataDir: work },
  ) as BatchSpawner;
}

const states = ['11', '12', '13'].map((job_id) => ({ v: 1, job_id, system_user: 'alice', where: 'x' }));

describe('pollMany of the batch back-end', () => {
  it('is absent with per-user queries, so the hub spreads them; each poll is one query', async () => {
    const s = spawner({});
    assert.equal(s.pollMany, undefined);
    for (const state of states) assert.deepEqual(await s.poll(state, { log }), { status: 'running' });
    assert.equal(readFileSync(calls, 'utf8'), 'q\nq\nq\n');
  });

  it('is there in service-account mode: one command for every server', async () => {
    const s = spawner({ batch_query_all_cmd: `echo all >> ${calls}; printf '11 RUNNING vm\\n12 PENDING n/a\\n'`, batch_query_cmd: `echo q >> ${calls}; true` });
    rmSync(calls, { force: true });
    const results = await s.pollMany!(states, { log });
    assert.deepEqual(results.map((r) => r.status), ['running', 'pending', 'stopped']);
    assert.equal(readFileSync(calls, 'utf8'), 'all\nq\n', 'one listing, and one question about the job it omitted');
  });

  it('a job the listing omits is asked on its own: still running keeps it, nothing there clears it', async () => {
    rmSync(calls, { force: true });
    const blind = spawner({ batch_query_all_cmd: `echo all >> ${calls}; printf '11 RUNNING vm\n'` });
    const results = await blind.pollMany!(states, { log });
    assert.deepEqual(results.map((r) => r.status), ['running', 'running', 'running'], 'jobs 12 and 13 were cleared on an incomplete listing');
    assert.equal(readFileSync(calls, 'utf8'), 'all\nq\nq\n', 'one listing, then one query for each job it omitted');
    assert.deepEqual(await blind.poll(states[2]!, { log }), { status: 'running' }, 'the single poll (start loop) confirms too');

    const ended = spawner({ batch_query_all_cmd: `printf '11 CANCELLED vm\n'`, batch_query_cmd: `echo q >> ${calls}; true` });
    rmSync(calls, { force: true });
    assert.deepEqual((await ended.pollMany!(states, { log })).map((r) => r.status), ['stopped', 'stopped', 'stopped']);
    assert.equal(readFileSync(calls, 'utf8'), 'q\nq\n', 'a job listed with its final state needs no second question');
  });

  it('a listing that printed nothing but an error (exit status 0) clears nothing: each job is asked on its own', async () => {
    const broken = spawner({ batch_query_all_cmd: `echo 'squeue: error: Invalid user for SlurmUser' >&2` });
    assert.deepEqual((await broken.pollMany!(states, { log })).map((r) => r.status), ['running', 'running', 'running']);
  });
});
