import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { expandEnvRefs } from '../../src/config/env-refs.js';

/** Issue 10 §3: config values from the environment (`${VAR}`, `${VAR:-default}`, `$${`, lists). */
describe('config values from the environment', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-config-env-'));
  const set: string[] = [];
  const env = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) {
      set.push(k);
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  after(() => {
    for (const k of set) delete process.env[k];
    rmSync(dir, { recursive: true, force: true });
  });
  let n = 0;
  const file = (text: string, ext = 'yaml') => {
    const f = path.join(dir, `c${n++}.${ext}`);
    writeFileSync(f, text);
    return f;
  };

  it('expands ${VAR} inside and as whole values, before validation', async () => {
    env({ GTEST_BASE: '/jupyter/', GTEST_HOST: 'hub.example.org', GTEST_PORT: '8123', GTEST_NAMED: 'true' });
    const { config } = await loadConfig(
      file('base_url: ${GTEST_BASE}\nport: ${GTEST_PORT}\nallow_named_servers: ${GTEST_NAMED}\nlogo_file: "/srv/${GTEST_HOST}/logo.svg"\n'),
    );
    assert.equal(config.base_url, '/jupyter/');
    assert.equal(config.port, 8123);
    assert.equal(config.allow_named_servers, true);
    assert.equal(config.logo_file, '/srv/hub.example.org/logo.svg');
  });

  it('uses ${VAR:-default} when the variable is unset or empty, and the value when set', async () => {
    env({ GTEST_UNSET: undefined, GTEST_EMPTY: '', GTEST_SET: '/set/' });
    const a = await loadConfig(file('base_url: ${GTEST_UNSET:-/fallback/}\n'));
    assert.equal(a.config.base_url, '/fallback/');
    const b = await loadConfig(file('base_url: ${GTEST_EMPTY:-/fallback/}\n'));
    assert.equal(b.config.base_url, '/fallback/');
    const c = await loadConfig(file('base_url: ${GTEST_SET:-/fallback/}\n'));
    assert.equal(c.config.base_url, '/set/');
    const d = await loadConfig(file('port: ${GTEST_UNSET:-9001}\n'));
    assert.equal(d.config.port, 9001);
  });

  it('a missing variable without a default is a config error naming the variable and the key', async () => {
    env({ GTEST_MISSING: undefined, GTEST_MISSING2: undefined });
    await assert.rejects(loadConfig(file('base_url: ${GTEST_MISSING}\n')), /base_url: environment variable GTEST_MISSING is not set/);
    await assert.rejects(
      loadConfig(file('hub:\n  ip: ${GTEST_MISSING}\nallowed_users: [a, "x${GTEST_MISSING2}"]\n')),
      (err: Error) => /2 problems/.test(err.message) && /hub\.ip: .*GTEST_MISSING\b/.test(err.message) && /allowed_users\[1\]: .*GTEST_MISSING2/.test(err.message),
    );
    // JSON files are read as YAML, with the same expansion
    await assert.rejects(loadConfig(file('{"base_url": "${GTEST_MISSING}"}', 'json')), /base_url: environment variable GTEST_MISSING is not set/);
  });

  it('an empty but set variable gives the empty string', () => {
    assert.deepEqual(expandEnvRefs({ a: 'x${E}y' }, { E: '' }).value, { a: 'xy' });
  });

  it('$${ is a literal ${ and other dollars stay', async () => {
    assert.deepEqual(expandEnvRefs({ a: 'pa$$${NOPE}w$rd $5 $HOME' }, {}).value, { a: 'pa$${NOPE}w$rd $5 $HOME' });
    assert.deepEqual(expandEnvRefs({ a: '$${X}' }, { X: 'no' }).value, { a: '${X}' });
    const { config } = await loadConfig(file('auth:\n  kind: shared-password\n  shared_password: "s3cret$${NOT_A_VAR}"\n'));
    assert.equal(config.auth.kind === 'shared-password' ? config.auth.shared_password : undefined, 's3cret${NOT_A_VAR}');
  });

  it('refuses malformed references with the key', async () => {
    for (const bad of ['${', 'a${1X}', '${X-y}', '${ X }', '${}']) {
      const r = expandEnvRefs({ k: [bad] }, { X: 'v' });
      assert.equal(r.problems.length, 1, bad);
      assert.equal(r.problems[0]!.key, 'k[0]', bad);
    }
    await assert.rejects(loadConfig(file('base_url: "/${oops"\n')), /base_url: an unclosed "\$\{"/);
  });

  it('a list item that is exactly one reference splits on white space (none when empty)', async () => {
    env({ GTEST_USERS: '  alice bob\tcarol\n', GTEST_NOUSERS: '' });
    const { config } = await loadConfig(file('allowed_users:\n  - ${GTEST_USERS}\n  - dave\nblocked_users: ["${GTEST_NOUSERS}"]\n'));
    assert.deepEqual(config.allowed_users, ['alice', 'bob', 'carol', 'dave']);
    assert.deepEqual(config.blocked_users, []);
    // inside a longer string, no splitting
    const r = expandEnvRefs({ l: ['x-${GTEST_USERS}'] });
    assert.deepEqual(r.value, { l: ['x-  alice bob\tcarol\n'] });
  });

  it('a list given as one reference in a scalar position says how to write it', async () => {
    env({ GTEST_USERS: 'alice bob' });
    await assert.rejects(loadConfig(file('allowed_users: ${GTEST_USERS}\n')), /allowed_users: expected array, got "alice bob" \(a list from one variable: write \["\$\{VAR\}"\]/);
  });

  it('keys are never expanded; a JS config module and overrides are not expanded', async () => {
    env({ GTEST_BASE: '/jupyter/' });
    assert.deepEqual(expandEnvRefs({ '${GTEST_BASE}': 'v' }).value, { '${GTEST_BASE}': 'v' });
    const js = file('export default { logo_file: "${GTEST_BASE}" };\n', 'mjs');
    const { config } = await loadConfig(js);
    assert.equal(config.logo_file, '${GTEST_BASE}');
    const o = await loadConfig(file('port: 8000\n'), { logo_file: '${GTEST_BASE}' });
    assert.equal(o.config.logo_file, '${GTEST_BASE}');
  });

  it('a quoted number typed in the file is still an error (only whole references convert)', async () => {
    await assert.rejects(loadConfig(file('port: "8000"\n')), /port: expected integer/);
  });

  it('converts whole references strictly: decimal numbers only, never a partial parse', async () => {
    for (const [v, want] of [['1e3', 1000], [' 8123 ', 8123], ['00080', 80]] as const) {
      env({ GTEST_NUM: v });
      assert.equal((await loadConfig(file('port: ${GTEST_NUM}\n'))).config.port, want, v);
    }
    for (const v of ['0x10', '0b11', '80.5', '8_000', 'Infinity', '80abc']) {
      env({ GTEST_NUM: v });
      await assert.rejects(loadConfig(file('port: ${GTEST_NUM}\n')), /port: expected integer/, v);
    }
    for (const [v, want] of [['false ', false], ['TRUE', true], ['0', false]] as const) {
      env({ GTEST_BOOL: v });
      assert.equal((await loadConfig(file('allow_named_servers: ${GTEST_BOOL}\n'))).config.allow_named_servers, want, v);
    }
  });

  it('converts whole references inside a union chosen by kind (auth:)', async () => {
    env({ GTEST_ATTEMPTS: '5', GTEST_WINDOW: '2.5', GTEST_MANAGE: 'true' });
    const { config } = await loadConfig(
      file('auth:\n  kind: shared-password\n  shared_password: long-enough-pw\n  manage_groups: ${GTEST_MANAGE}\n  login_rate_limit:\n    attempts: ${GTEST_ATTEMPTS}\n    window_seconds: ${GTEST_WINDOW}\n'),
    );
    assert.equal(config.auth.login_rate_limit.attempts, 5);
    assert.equal(config.auth.login_rate_limit.window_seconds, 2.5);
    assert.equal(config.auth.manage_groups, true);
  });

  it('a value holding a reference is not expanded again', async () => {
    env({ GTEST_OUTER: '${GTEST_INNER}', GTEST_INNER: 'x' });
    assert.equal((await loadConfig(file('logo_file: /a/${GTEST_OUTER}\n'))).config.logo_file, '/a/${GTEST_INNER}');
  });

  it('keys named like Object.prototype members are unknown options, never a prototype', async () => {
    const text = '__proto__:\n  port: 1234\nconstructor: 1\nauth:\n  kind: shared-password\n  shared_password: long-enough-pw\n  __proto__:\n    dev_users: [eve.p1]\n  toString: x\n';
    await assert.rejects(loadConfig(file(text)), (err: Error) => {
      for (const key of ['__proto__', 'constructor', 'auth.__proto__', 'auth.toString']) assert.match(err.message, new RegExp(`^  ${key.replace(/\./g, '\\.')}: unknown option`, 'm'), key);
      return true;
    });
  });
});

