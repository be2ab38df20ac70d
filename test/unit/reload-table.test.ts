import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { CommonAuthOptions } from '../../src/auth/common-options.js';
import { RELOAD_TABLE, liveConfigSection, reloadRule, reloadTableMarkdown } from '../../src/hub/reload-table.js';
import { changedKeys, planReload } from '../../src/hub/reload-plan.js';

describe('live configuration: the table', () => {
  it('classifies every option of the schema, and names no option the schema lacks', () => {
    const top = Object.keys(ConfigSchema.properties);
    const missing = top.filter((k) => !(k in RELOAD_TABLE));
    assert.deepEqual(missing, [], `options not classified in src/hub/reload-table.ts: ${missing.join(', ')}`);
    for (const key of Object.keys(RELOAD_TABLE)) {
      const [section, sub, ...rest] = key.split('.');
      assert.ok(top.includes(section!), `${key}: no option ${section}`);
      assert.equal(rest.length, 0, `${key}: two levels at most`);
      if (sub !== undefined) {
        assert.equal(section, 'auth', `${key}: only auth's common options are classified apart`);
        assert.ok(sub in CommonAuthOptions.properties, `${key}: not a common auth option`);
      }
    }
  });

  it('keeps the restart-only options of the brief restart-only, and the live ones live', () => {
    for (const k of ['ip', 'port', 'hub', 'db', 'data_dir', 'proxy', 'spawner', 'spawners', 'auth', 'auth.kind', 'auth.client_id', 'base_url']) assert.equal(reloadRule(k).apply, 'restart', k);
    for (const k of ['allowed_users', 'blocked_users', 'admin_users', 'concurrent_spawn_limit', 'active_server_limit', 'named_server_limit_per_user', 'start_timeout', 'http_timeout', 'cull', 'environment', 'api_page_default_limit', 'api_page_max_limit', 'roles', 'services', 'headers', 'log_level', 'auth.allowed_groups']) {
      assert.equal(reloadRule(k).apply, 'live', k);
    }
    assert.equal(reloadRule('auth.login_rate_limit').entry, 'auth');
    assert.equal(reloadRule('no_such_option').apply, 'restart', 'an unclassified key is kept, the safe side');
  });

  it('docs/operations.md has the table as the code gives it (npm run docs:gen)', () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    assert.ok(doc.includes(liveConfigSection()), 'the "Live configuration" table of docs/operations.md is stale: run npm run docs:gen');
    assert.ok(liveConfigSection().includes(reloadTableMarkdown()));
  });
});

describe('live configuration: the plan', () => {
  const base = validateConfig({ auth: { kind: 'shared-password', shared_password: 'password-one' }, allowed_users: ['ann'] });

  it('finds no change between equal configurations', () => {
    assert.deepEqual(changedKeys(base as never, structuredClone(base) as never), []);
    const plan = planReload(base, structuredClone(base));
    assert.deepEqual([plan.live, plan.restart], [[], []]);
  });

  it('applies live changes and undoes restart-only ones, keeping the running value', () => {
    const next = validateConfig({ auth: { kind: 'shared-password', shared_password: 'password-two', allowed_groups: ['staff'] }, allowed_users: ['ann', 'bob'], port: 9999, concurrent_spawn_limit: 3, spawner: { kind: 'local-process', cmd: ['other'] } });
    const plan = planReload(base, next);
    assert.deepEqual(plan.live.sort(), ['allowed_users', 'auth.allowed_groups', 'concurrent_spawn_limit']);
    assert.deepEqual(plan.restart.sort(), ['auth.shared_password', 'port', 'spawner']);
    assert.equal(plan.applied.port, base.port);
    assert.deepEqual(plan.applied.spawner, base.spawner);
    assert.equal((plan.applied.auth as { shared_password?: string }).shared_password, 'password-one');
    assert.deepEqual(plan.applied.auth.allowed_groups, ['staff']);
    assert.deepEqual(plan.applied.allowed_users, ['ann', 'bob']);
    assert.equal(plan.applied.concurrent_spawn_limit, 3);
    assert.equal(base.concurrent_spawn_limit, 100, 'the running configuration object is not changed');
  });

  it('keeps the running authenticator when auth.kind changes, and still applies the common live options', () => {
    const next = validateConfig({ auth: { kind: 'oidc', issuer: 'https://id.example.org', client_id: 'hub', admin_groups: ['ops'] }, allowed_users: ['ann'] });
    const plan = planReload(base, next);
    assert.ok(plan.restart.includes('auth.kind'), plan.restart.join());
    assert.ok(plan.restart.includes('auth.client_id'));
    assert.deepEqual(plan.live, ['auth.admin_groups']);
    assert.equal(plan.applied.auth.kind, 'shared-password');
    assert.equal((plan.applied.auth as Record<string, unknown>)['client_id'], undefined);
    assert.equal((plan.applied.auth as { shared_password?: string }).shared_password, 'password-one');
    assert.deepEqual(plan.applied.auth.admin_groups, ['ops']);
  });

  it('never quotes a secret back in a problem (a refused reload logs the problems)', () => {
    assert.throws(
      () => validateConfig({ auth: { kind: 'shared-password', shared_password: 'xq7Zk' } }),
      (err: Error & { problems?: string[] }) => {
        assert.doesNotMatch(err.message, /xq7Zk/);
        assert.match(err.problems?.[0] ?? '', /^auth\.shared_password: .*not shown \(a secret\)/);
        return true;
      },
    );
  });
});
