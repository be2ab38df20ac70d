import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { SshOptionsSchema } from '../../src/spawners/batch/ssh-config.js';
import { backoffDelay, shellSingleQuote, withEnvAssignments } from '../../src/spawners/batch/ssh-transport.js';

test('env assignments: exported, single-quoted, names checked', () => {
  assert.equal(withEnvAssignments('squeue', undefined), 'squeue');
  assert.equal(withEnvAssignments('squeue', {}), 'squeue');
  assert.equal(
    withEnvAssignments('sudo -u alice w', { SLURMSPAWNER_JOB_ID: '12', B: "it's" }),
    `export SLURMSPAWNER_JOB_ID='12' B='it'\\''s'; sudo -u alice w`,
  );
  for (const bad of ['', '1A', 'A-B', 'A B', 'A;id', 'A=B', 'Ä']) {
    assert.throws(() => withEnvAssignments('x', { [bad]: '1' }), /not a valid environment variable name/);
  }
  assert.equal(shellSingleQuote(`a'b\n$c`), `'a'\\''b\n$c'`);
});

test('backoff: none before a failure, doubling, capped, jittered down to half', () => {
  assert.equal(backoffDelay(0, 500, 30_000), 0);
  assert.equal(backoffDelay(1, 500, 30_000, () => 1), 500);
  assert.equal(backoffDelay(2, 500, 30_000, () => 1), 1000);
  assert.equal(backoffDelay(4, 500, 30_000, () => 1), 4000);
  assert.equal(backoffDelay(50, 500, 30_000, () => 1), 30_000);
  assert.equal(backoffDelay(3, 500, 30_000, () => 0), 1000);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(3, 500, 30_000);
    assert.ok(d >= 1000 && d <= 2000);
  }
});

test('ssh: options: defaults and refusals', () => {
  const cfg = Value.Default(SshOptionsSchema, { host: 'login1', user: 'jupyterspawner', key_file: '/k', known_hosts: '/kh' });
  assert.ok(Value.Check(SshOptionsSchema, cfg));
  assert.deepEqual(cfg, {
    host: 'login1', user: 'jupyterspawner', key_file: '/k', known_hosts: '/kh',
    port: 22, connect_timeout: 10, command_timeout: 30, max_sessions: 8,
  });
  for (const bad of [{ host: '-oProxyCommand=x' }, { host: 'a b' }, { port: 0 }, { user: 'a;b' }, { max_sessions: 0 }, { extra: 1 }]) {
    assert.equal(Value.Check(SshOptionsSchema, { ...cfg, ...bad }), false, JSON.stringify(bad));
  }
});
