/**
 * The FirecREST job's environment: plain values in FirecREST's `env`,
 * secrets and values with quotes encoded in the script; a real bash run
 * proves every value comes out byte for byte, and shellcheck finds nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { encodedEnvLines, isSecretName, splitJobEnv, withEncodedEnv } from '../../src/spawners/firecrest/firecrest-job-env.js';

describe('splitJobEnv', () => {
  it('keeps secrets and values FirecREST refuses out of env', () => {
    const { plain, encoded } = splitJobEnv({
      JUPYTERHUB_API_TOKEN: 'abc123',
      JPY_API_TOKEN: 'abc123',
      JUPYTERHUB_CRYPT_KEY: 'k',
      MY_PASSWORD: 'p',
      SOME_SECRET_THING: 's',
      JUPYTERHUB_OAUTH_SCOPES: '["access:servers!server=alice/"]',
      JUPYTERHUB_OAUTH_ACCESS_SCOPES: '["x"]',
      JUPYTERHUB_API_URL: 'http://10.0.0.1:8081/hub/api',
      JUPYTERHUB_USER: 'alice',
      JUPYTERHUB_SERVICE_PREFIX: '/user/alice/',
      WITH_SPACE: 'a b',
    });
    assert.deepEqual(Object.keys(plain).sort(), ['JUPYTERHUB_API_URL', 'JUPYTERHUB_SERVICE_PREFIX', 'JUPYTERHUB_USER']);
    assert.deepEqual(Object.keys(encoded).sort(), ['JPY_API_TOKEN', 'JUPYTERHUB_API_TOKEN', 'JUPYTERHUB_CRYPT_KEY', 'JUPYTERHUB_OAUTH_ACCESS_SCOPES', 'JUPYTERHUB_OAUTH_SCOPES', 'MY_PASSWORD', 'SOME_SECRET_THING', 'WITH_SPACE']);
    assert.ok(isSecretName('A_KEY') && isSecretName('x_token') && !isSecretName('JUPYTERHUB_USER'));
  });

  it('refuses names that are not shell names and NUL in values', () => {
    assert.throws(() => splitJobEnv({ 'A-B': 'x' }), /not a valid shell name/);
    assert.throws(() => splitJobEnv({ '1A': 'x' }), /not a valid shell name/);
    assert.throws(() => splitJobEnv({ 'A;id': 'x' }), /not a valid shell name/);
    assert.throws(() => splitJobEnv({ A: 'x\0y' }), /NUL/);
  });
});

describe('encodedEnvLines', () => {
  const hostile: Record<string, string> = {
    V_QUOTES: `it's "quoted" \\ back`,
    V_DOLLAR: '$HOME ${PATH} $(id) `id`',
    V_NEWLINES: 'line1\nline2\r\n\n',
    V_TRAILING_DOT: 'ends with dot.',
    V_EMPTY: '',
    V_UNICODE: 'héllo ✓ 🚀 \u202e',
    V_JSON: '["access:servers!server=alice/","read:users:activity!user=alice"]',
    V_CONTROL: '\u0001\u001b[31m\u007f\t',
    V_BYTES: Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join(''),
  };

  it('every value survives a real bash run byte for byte, and no value appears in the script', () => {
    const script = withEncodedEnv('#!/bin/bash\n#SBATCH --nodes=1\n\nenv -0\n', hostile);
    for (const v of Object.values(hostile)) if (v.length > 3) assert.ok(!script.includes(v), 'value in clear');
    const out = execFileSync('bash', ['-c', script], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    const got = new Map<string, string>();
    for (const entry of out.toString('utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) got.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    for (const [k, v] of Object.entries(hostile)) assert.equal(got.get(k), v, k);
  });

  it('puts the lines after the #SBATCH header (Slurm still reads every directive)', () => {
    const script = withEncodedEnv('#!/bin/bash\n#SBATCH --nodes=1\n#SBATCH --time=01:00:00\n\necho hi\n', { A: 'x y' });
    const lines = script.split('\n');
    assert.equal(lines[2], '#SBATCH --time=01:00:00');
    assert.match(lines[3]!, /^A="\$\(printf/);
    assert.equal(withEncodedEnv('#!/bin/bash\necho\n', {}), '#!/bin/bash\necho\n');
  });

  it('is shellcheck-clean', (t) => {
    if (spawnSync('shellcheck', ['--version']).status !== 0) return t.skip('no shellcheck');
    const script = ['#!/bin/bash', ...encodedEnvLines(hostile), 'echo "$V_QUOTES"', ''].join('\n');
    const r = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: script });
    assert.equal(r.status, 0, r.stdout.toString());
  });
});
