import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { configMarkdown, optionDocs } from '../../src/config/docs.js';
import { readFileSync } from 'node:fs';

describe('configuration', () => {
  it('fills every default', () => {
    const c = validateConfig({});
    assert.equal(c.port, 8000);
    assert.equal(c.hub.port, 8081);
    assert.equal(c.spawner.kind, 'local-process');
    assert.deepEqual(c.spawner.cmd, ['jupyterhub-singleuser']);
    assert.equal(c.db.url, 'sqlite:///ganymede.sqlite');
  });

  it('names an unknown key and suggests the right one', () => {
    assert.throws(() => validateConfig({ start_timout: 5 }), /start_timout: unknown option \(did you mean "start_timeout"\?\)/);
    assert.throws(() => validateConfig({ hub: { prot: 1 } }), /hub\.prot: unknown option \(did you mean "port"\?\)/);
    assert.throws(() => validateConfig({ spawner: { kind: 'local-process', cmdd: ['x'] } }), /spawner\.cmdd: unknown option \(did you mean "cmd"\?\)/);
  });

  it('names the key, the value and what was expected', () => {
    assert.throws(() => validateConfig({ port: 'eighty' }), /port: expected integer, got "eighty"/);
    assert.throws(() => validateConfig({ port: 70000 }), /port: .*65535.*got 70000/);
    assert.throws(() => validateConfig({ spawner: { kind: 'nomad' } }), /spawner\.kind: (?:expected 'local-process', got|unknown kind) "nomad"/);
    assert.throws(() => validateConfig({ base_url: 'hub' }), /base_url/);
  });

  it('loads YAML and JS modules with hooks, and reports unreadable files', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-config-'));
    const yaml = path.join(dir, 'c.yaml');
    writeFileSync(yaml, 'port: 9000\nhub:\n  port: 9001\nallowed_users: [alice]\n');
    const loaded = await loadConfig(yaml, { port: 9100 });
    assert.equal(loaded.config.port, 9100);
    assert.equal(loaded.config.hub.port, 9001);
    const js = path.join(dir, 'ganymede.config.mjs');
    writeFileSync(js, 'export default { port: 9002, hooks: { optionsForm: () => "<input name=x>" } };\n');
    const fromJs = await loadConfig(js);
    assert.equal(fromJs.config.port, 9002);
    assert.equal(await fromJs.hooks.optionsForm?.({ name: 'a', admin: false, groups: [] }), '<input name=x>');
    writeFileSync(js.replace('.mjs', '2.mjs'), 'export default { hooks: { preSpawn: () => 1 } };\n');
    await assert.rejects(loadConfig(js.replace('.mjs', '2.mjs')), /hooks\.preSpawn: unknown hook \(did you mean "preSpawnStart"\?\)/);
    writeFileSync(path.join(dir, 'bad.yaml'), 'port: [\n');
    await assert.rejects(loadConfig(path.join(dir, 'bad.yaml')), /not valid YAML/);
    await assert.rejects(loadConfig(path.join(dir, 'missing.yaml')), /cannot read: ENOENT/);
  });

  it('documents every option, and docs/reference/config.md is up to date', () => {
    for (const o of optionDocs()) assert.ok(o.description.length > 10, `${o.key} has help text`);
    const file = new URL('../../docs/reference/config.md', import.meta.url);
    assert.equal(readFileSync(file, 'utf8'), configMarkdown(), 'docs/reference/config.md is stale: run npm run docs:gen');
  });
});

it('entries of a list of objects get the key checks of any section (services, roles)', () => {
  const problems = (raw: Record<string, unknown>): string => {
    try {
      validateConfig(raw);
      return '';
    } catch (err) {
      return (err as Error).message;
    }
  };
  // a map's key pattern inside a list entry was not checked at all: a managed service got `BAD NAME=...`
  assert.match(problems({ services: [{ name: 'x', environment: { 'BAD NAME': 'v' } }] }), /services\.0\.environment\.BAD NAME: "BAD NAME" is not a valid name/);
  // a misspelt key is named with a suggestion, and its value (here a token) is not quoted back
  const typo = problems({ services: [{ name: 'x', api_tokn: 'hunter2-secret-value-long' }] });
  assert.match(typo, /services\.0\.api_tokn: unknown option \(did you mean "api_token"\?\)/);
  assert.doesNotMatch(typo, /hunter2/);
  assert.match(problems({ roles: [{ name: 'r', scope: ['read:users'] }] }), /roles\.0\.scope: unknown option \(did you mean "scopes"\?\)/);
  assert.equal(problems({ services: [{ name: 'x', api_token: 'a-long-enough-secret-token', environment: { OK_1: 'v' } }], roles: [{ name: 'r', scopes: ['read:users'], services: ['x'] }] }), '');
});
