import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { validateConfig } from '../../src/config/load.js';
import { applyServices } from '../../src/services/apply-services.js';
import { expandScopes } from '../../src/rbac/scopes.js';
import { checkServiceRoles } from '../../src/services/service-roles.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const FILE_TOKEN = 'file-token-0123456789abcdef';
const SCOPED_TOKEN = 'scoped-token-0123456789abcdef';
const ROLED_TOKEN = 'roled-token-0123456789abcdef';

/** A little HTTP server standing for a service: it answers every request with its path. */
async function littleServer(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ service: 'little', path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('services from config: token file, inline roles and scopes, url routed through the proxy', () => {
  let t: TestHub;
  let admin: string;
  let little: Awaited<ReturnType<typeof littleServer>>;
  let dir: string;
  let tokenFile: string;
  let services: Record<string, unknown>[];
  const roles = [
    { name: 'group-reader', scopes: ['list:groups', 'read:groups'] },
    { name: 'service-lister', scopes: ['list:services', 'read:services:name'], users: ['carol'] },
  ];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-svc-'));
    tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, `${FILE_TOKEN}\n`, { mode: 0o600 });
    little = await littleServer();
    services = [
      { name: 'ext', api_token_file: tokenFile, url: `${little.url}/ignored/path` },
      { name: 'scoped', api_token: SCOPED_TOKEN, scopes: ['list:users'] },
      { name: 'roled', api_token: ROLED_TOKEN, roles: ['group-reader'] },
    ];
    t = await startTestHub({ services, roles });
    admin = await t.tokenFor('root', { admin: true });
  });
  after(async () => {
    await t.stop();
    await little.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('api_token_file: the token in the file identifies the service', async () => {
    const me = await t.api('GET', '/user', { token: FILE_TOKEN });
    assert.equal(me.status, 200);
    assert.deepEqual([(me.body as { kind: string }).kind, (me.body as { name: string }).name], ['service', 'ext']);
  });

  it('inline scopes give the token exactly those permissions (through the implicit role)', async () => {
    const me = (await t.api('GET', '/user', { token: SCOPED_TOKEN })).body as { roles: string[]; scopes: string[] };
    assert.deepEqual(me.roles, ['_service-scoped']);
    assert.deepEqual(me.scopes, [...expandScopes(['list:users'], { service: 'scoped' })].sort());
    assert.equal((await t.api('GET', '/users', { token: SCOPED_TOKEN })).status, 200);
    assert.equal((await t.api('PATCH', '/users/root', { token: SCOPED_TOKEN, body: { admin: false } })).status, 403);
    assert.equal((await t.api('GET', '/groups', { token: SCOPED_TOKEN })).status, 403);
    assert.equal((await t.api('POST', '/users/mallory', { token: SCOPED_TOKEN })).status, 403);
  });

  it('inline roles: the service holds the named role', async () => {
    const me = (await t.api('GET', '/user', { token: ROLED_TOKEN })).body as { roles: string[] };
    assert.deepEqual(me.roles, ['group-reader']);
    assert.equal((await t.api('GET', '/groups', { token: ROLED_TOKEN })).status, 200);
    assert.equal((await t.api('GET', '/users', { token: ROLED_TOKEN })).status, 403);
  });

  it('the model has url and prefix as JupyterHub; command and pid only with read:services', async () => {
    const ext = (await t.api('GET', '/services/ext', { token: admin })).body as Record<string, unknown>;
    assert.equal(ext['url'], `${little.url}/ignored/path`);
    assert.equal(ext['prefix'], '/services/ext/');
    assert.deepEqual(ext['command'], []);
    assert.equal(ext['pid'], 0);
    assert.equal(ext['display'], true);
    const scoped = (await t.api('GET', '/services/scoped', { token: admin })).body as Record<string, unknown>;
    assert.equal(scoped['prefix'], '');
    // read:services:name shows the name, not the command or pid
    const carol = await t.tokenFor('carol');
    const named = await t.api('GET', '/services/ext', { token: carol });
    assert.equal(named.status, 200);
    assert.deepEqual(Object.keys(named.body as object).sort(), ['admin', 'kind', 'name']);
    const list = (await t.api('GET', '/services', { token: carol })).body as Record<string, unknown>[];
    assert.ok(list.every((m) => !('command' in m) && !('pid' in m)));
  });

  it('a request through the real proxy at /services/ext/x reaches the service, path kept', async () => {
    const res = await fetch(`${t.publicUrl}/services/ext/x?y=1`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { service: 'little', path: '/services/ext/x?y=1' });
    const routes = await t.hub.proxy.getAllRoutes();
    assert.equal(routes.get('/services/ext/')?.target, little.url);
    assert.deepEqual(routes.get('/services/ext/')?.data['service'], 'ext');
    assert.equal(routes.get('/services/scoped/'), undefined, 'no url, no route');
  });

  it('applying the same list again changes nothing; a new token in the file replaces the old one', async () => {
    await applyServices(t.hub, validateConfig({ services, roles }).services);
    assert.equal((await t.api('GET', '/user', { token: FILE_TOKEN })).status, 200);
    const rotated = 'rotated-file-token-0123456789';
    writeFileSync(tokenFile, rotated, { mode: 0o600 });
    await applyServices(t.hub, validateConfig({ services, roles }).services);
    assert.equal((await t.api('GET', '/user', { token: FILE_TOKEN })).status, 403);
    assert.equal((await t.api('GET', '/user', { token: rotated })).status, 200);
    writeFileSync(tokenFile, FILE_TOKEN, { mode: 0o600 });
  });

  it('removing a service removes its route and its token; scopes removed drop the implicit role', async () => {
    const next = validateConfig({ services: [{ name: 'scoped', api_token: SCOPED_TOKEN }], roles });
    await applyServices(t.hub, next.services);
    assert.equal((await t.api('GET', '/user', { token: FILE_TOKEN })).status, 403);
    assert.equal((await t.api('GET', '/services/ext', { token: admin })).status, 404);
    assert.equal((await t.hub.proxy.getAllRoutes()).get('/services/ext/'), undefined);
    const res = await fetch(`${t.publicUrl}/services/ext/x`, { redirect: 'manual' });
    assert.notEqual(res.status, 200);
    assert.equal(little.seen.filter((p) => p === '/services/ext/x').length, 0);
    const me = (await t.api('GET', '/user', { token: SCOPED_TOKEN })).body as { roles: string[] };
    assert.deepEqual(me.roles, []);
    assert.equal((await t.api('GET', '/users', { token: SCOPED_TOKEN })).status, 403);
    const implicit = await t.hub.db.selectFrom('roles').select('name').where('name', '=', '_service-scoped').execute();
    assert.equal(implicit.length, 0);
    // and back, as a reload would
    await applyServices(t.hub, validateConfig({ services, roles }).services);
    assert.equal((await t.api('GET', '/user', { token: FILE_TOKEN })).status, 200);
    assert.equal((await fetch(`${t.publicUrl}/services/ext/back`)).status, 200);
  });

  it('bad entries are refused with the service and the problem named, before anything changes', async () => {
    const bad = async (entries: Record<string, unknown>[], re: RegExp) => {
      await assert.rejects(applyServices(t.hub, validateConfig({ services: entries, roles }).services), re);
    };
    await bad([{ name: 'x' }, { name: 'x' }], /"x" is listed twice/);
    await bad([{ name: 'x', api_token_file: path.join(dir, 'missing') }], /services: "x": api_token_file .*missing does not exist/);
    await bad([{ name: 'x', api_token: 'a-long-enough-token-000', api_token_file: tokenFile }], /services: "x": give api_token or api_token_file, not both/);
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '\n', { mode: 0o600 });
    await bad([{ name: 'x', api_token_file: empty }], /services: "x": api_token_file .* is empty/);
    const short = path.join(dir, 'short');
    writeFileSync(short, 'abc\n', { mode: 0o600 });
    await bad([{ name: 'x', api_token_file: short }], /services: "x": the token in api_token_file .* is shorter than 16/);
    if (process.getuid?.() !== 0) {
      const locked = path.join(dir, 'locked');
      writeFileSync(locked, FILE_TOKEN, { mode: 0o600 });
      chmodSync(locked, 0o000);
      await bad([{ name: 'x', api_token_file: locked }], /services: "x": api_token_file .* permission denied/);
    }
    await bad([{ name: 'x', url: 'ftp://example.org' }], /services: "x": url "ftp:\/\/example.org" is not an http/);
    await bad([{ name: 'x', scopes: ['no-such-scope'] }], /services: "x": scopes:/);
    await bad([{ name: 'x', roles: ['no-such-role'] }], /services: "x": roles: no role named "no-such-role"/);
    await bad([{ name: 'x', command: [''] }], /services: "x": command starts with an empty program name/);
    // nothing changed
    assert.equal((await t.api('GET', '/user', { token: FILE_TOKEN })).status, 200);
    assert.equal((await t.api('GET', '/services/x', { token: admin })).status, 404);
  });
});

describe('services in ganymede config check and in docs/operations.md', () => {
  it('config check refuses a missing token file, naming the service', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-svc-check-'));
    try {
      const file = path.join(dir, 'c.yaml');
      writeFileSync(file, `services:\n  - name: culler\n    api_token_file: ${path.join(dir, 'nope')}\n`);
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', "const m = await import('./src/cli/main.ts'); await m.main(process.argv.slice(1));", '--', 'config', 'check', '--config', file],
        { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
      );
      assert.notEqual(r.status, 0);
      assert.match(`${r.stdout}${r.stderr}`, /services: "culler": api_token_file .*nope does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the example of docs/operations.md is a valid configuration', () => {
    const doc = readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## Services'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(block, 'a yaml block in the Services section');
    const cfg = validateConfig(parseYaml(block) as Record<string, unknown>);
    checkServiceRoles(cfg.services);
    assert.deepEqual(cfg.services.map((s) => s.name), ['idle-culler', 'announcements', 'stats']);
  });
});
