/**
 * `ganymede config check` refuses what `serve` refuses when it builds the
 * authenticator (rules between options, https provider URLs, the key for
 * auth state), and accepts the four sites' logins as docs/authentication.md
 * shows them (placeholders filled).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'ab'.repeat(32);

function check(file: string, env: Record<string, string | undefined> = {}): { code: number | null; out: string } {
  const fullEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, GANYMEDE_CRYPT_KEY: KEY, ...env })) if (v !== undefined) fullEnv[k] = v;
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', "const m = await import('./src/cli/main.ts'); await m.main(process.argv.slice(1));", '--', 'config', 'check', '--config', file],
    { cwd: ROOT, env: fullEnv, encoding: 'utf8', timeout: 60_000 },
  );
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('ganymede config check and the login options', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-check-auth-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const file = (text: string) => {
    const f = path.join(dir, `c${n++}.yaml`);
    writeFileSync(f, text);
    return f;
  };

  it("accepts the sites' configurations of docs/authentication.md", () => {
    const secret = path.join(dir, 'client-secret');
    writeFileSync(secret, 'the-secret\n');
    const doc = readFileSync(path.join(ROOT, 'docs/authentication.md'), 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    assert.ok(blocks.length >= 4, `${blocks.length} yaml blocks`);
    const env = {
      DEPLOY_CONFIG_OIDC_SERVER: 'https://keycloak.example.org/realms/isambard',
      DEPLOY_CONFIG_JWT_AUDIENCE: 'zenith-jupyter',
      DEPLOY_CONFIG_BRICS_PLATFORM: 'brics.aip1.notebooks',
      DEPLOY_CONFIG_DEV_USERS: 'alice.proj1 alice.proj2 bob.proj1',
      DEPLOY_CONFIG_DUMMY_AUTH_PASSWORD: 'a-dev-password',
      DEPLOY_CONFIG_ADMIN_PASSWORD: 'an-admin-password',
    };
    for (const block of blocks) {
      const r = check(file(block.replace(/client_secret_file: \S+/g, `client_secret_file: ${secret}`)), env);
      assert.equal(r.code, 0, `${r.out}\n---\n${block}`);
      assert.match(r.out, /configuration OK/);
    }
  });

  const refused: Array<[string, string, RegExp, Record<string, string | undefined>?]> = [
    ['an OIDC login with neither issuer nor authorize_url', 'auth:\n  kind: oidc\n  client_id: hub\n', /give `issuer`/],
    ['an http issuer without allow_insecure_http', 'auth:\n  kind: oidc\n  client_id: hub\n  issuer: http://kc.example.org/realms/x\n', /must be an https URL/],
    ['explicit endpoints with scope openid and no issuer', 'auth:\n  kind: oidc\n  client_id: hub\n  authorize_url: https://a.example.org/auth\n  token_url: https://a.example.org/token\n  scope: [openid]\n', /need `issuer`/],
    ['a JWT oidc_server that is http and not loopback', 'auth:\n  kind: jwt-header\n  oidc_server: http://kc.example.org/realms/x\n  jwt_audience: a\n  platform: p\n', /must be https/],
    ['a JWT login without GANYMEDE_CRYPT_KEY', 'auth:\n  kind: jwt-header\n  oidc_server: https://kc.example.org/realms/x\n  jwt_audience: a\n  platform: p\n', /GANYMEDE_CRYPT_KEY is not set/, { GANYMEDE_CRYPT_KEY: undefined }],
    ['a FirecREST back-end with a login that keeps no tokens', 'auth:\n  kind: shared-password\n  shared_password: long-enough-pw\nspawners:\n  daint:\n    kind: firecrest\n    firecrest_url: https://f7t.example.org/v2\n    system: daint\n', /spawner "daint" \(kind firecrest\) acts as the user with their own access token.*auth.kind: oidc/],
    ['a FirecREST back-end with an OIDC login that keeps no auth state', 'auth:\n  kind: oidc\n  client_id: hub\n  issuer: https://kc.example.org/realms/x\nspawners:\n  daint:\n    kind: firecrest\n    firecrest_url: https://f7t.example.org/v2\n    system: daint\n', /spawner "daint" \(kind firecrest\).*enable_auth_state: true/],
    ['dev_users without GANYMEDE_CRYPT_KEY', 'auth:\n  kind: shared-password\n  shared_password: long-enough-pw\n  dev_users: [alice.p1]\n', /GANYMEDE_CRYPT_KEY is not set/, { GANYMEDE_CRYPT_KEY: undefined }],
  ];
  it('accepts a FirecREST back-end behind an OIDC login that keeps its tokens', () => {
    const r = check(file('auth:\n  kind: oidc\n  client_id: hub\n  issuer: https://kc.example.org/realms/x\n  enable_auth_state: true\nspawners:\n  daint:\n    kind: firecrest\n    firecrest_url: https://f7t.example.org/v2\n    system: daint\n'));
    assert.equal(r.code, 0, r.out);
  });

  for (const [what, text, message, env] of refused) {
    it(`refuses ${what}, naming it, as serve does`, () => {
      const r = check(file(text), env);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, message);
    });
  }
});
