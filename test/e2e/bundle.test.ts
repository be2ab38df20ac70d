/**
 * The built bundles (scripts/bundle.mjs), as `node bin/ganymede.js` loads them:
 *  - ASCII only, so that V8 keeps their source one byte per character (a
 *    single character beyond Latin-1 doubles the hub's memory for it);
 *  - loading the hub's bundle loads no back-end package: the Kubernetes
 *    client and ssh2 are loaded when a back-end first uses them, and the
 *    PostgreSQL driver when the database is PostgreSQL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO, requireBuiltHub } from '../helpers/e2e.js';

requireBuiltHub();

const BUNDLES = ['dist/ganymede.mjs', 'dist/ganymede-proxy.mjs'];

/** Imports `bundle` in a fresh node and answers the URLs of every module it resolved (a module.register resolve hook). */
async function modulesLoadedBy(bundle: string): Promise<string[]> {
  const script = `
import { register } from 'node:module';
const { port1, port2 } = new MessageChannel();
const seen = [];
port1.on('message', (url) => seen.push(url));
port1.unref();
register('data:text/javascript,let port; export function initialize(d) { port = d.port; } export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }', { data: { port: port2 }, transferList: [port2] });
await import(${JSON.stringify(path.join(REPO, bundle))});
await new Promise((r) => setTimeout(r, 200));
process.stdout.write(JSON.stringify(seen));
`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO, timeout: 30_000 });
  return JSON.parse(stdout) as string[];
}

describe('the built bundles', () => {
  it('hold only ASCII characters', () => {
    for (const bundle of BUNDLES) {
      const text = readFileSync(path.join(REPO, bundle), 'utf8');
      // eslint-disable-next-line no-control-regex
      const at = text.search(/[^\x00-\x7f]/);
      assert.equal(at, -1, `${bundle}: a character beyond ASCII at offset ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}`);
    }
  });

  it('loading the hub loads none of the back-end packages (Kubernetes client, ssh2, PostgreSQL driver)', async () => {
    const urls = await modulesLoadedBy('dist/ganymede.mjs');
    assert.ok(urls.some((u) => u.endsWith('/dist/ganymede.mjs')), `the hook saw the bundle: ${urls.join(', ')}`);
    const packages = urls.filter((u) => u.includes('/node_modules/'));
    for (const name of ['@kubernetes/client-node', 'ssh2', 'pg']) {
      assert.ok(!packages.some((u) => u.includes(`/node_modules/${name}/`)), `${name} is loaded at start: ${packages.join(', ')}`);
    }
  });
});
