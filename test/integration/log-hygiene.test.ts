/**
 * Issue 9 (1.10): what comes from outside is clipped and escaped in log lines,
 * and no secret is logged, whatever the call site. The hub runs with the real
 * logger (src/lib/log.ts) writing JSON lines into a stream the test reads.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildHub, type BuiltHub } from '../../src/hub/app.js';
import { createLogger } from '../../src/lib/log.js';
import { LOG_STACK_MAX, LOG_STRING_MAX } from '../../src/lib/log-sanitize.js';
import { freePort } from '../../src/lib/free-port.js';
import { testHubConfig } from '../helpers/hub.js';

const HOSTILE = `mallory\n{"level":30,"msg":"user logged in","user":"admin"}\r\u001b[2J\u001b]0;pwned\u0007\u0000\u202e` + 'A'.repeat(1024 * 1024);
const PASSWORD = 'not-the-password-4711';
const BEARER = 'bearer-secret-0815';

describe('log hygiene (issue 9, 1.10)', () => {
  const lines: string[] = [];
  let built: BuiltHub;
  let hubUrl: string;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-log-'));
    const port = await freePort('127.0.0.1');
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const config = testHubConfig(dataDir, port, { max_body_size: 8 * 1024 * 1024 });
    built = await buildHub({ config, log: createLogger('debug', { format: 'json', destination }) });
    await built.app.listen({ host: '127.0.0.1', port });
    hubUrl = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await built.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs a 1 MB user name with newlines and escape codes clipped and escaped, on one line, with no secret', async () => {
    const res = await fetch(`${hubUrl}/hub/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${BEARER}`, Cookie: `jupyterhub-session-id=${BEARER}` },
      body: new URLSearchParams({ username: HOSTILE, password: PASSWORD }).toString(),
    });
    await res.text();
    assert.equal(res.status, 403);
    // a hostile name in an API path and in a query reaches the error log too
    const api = await fetch(`${hubUrl}/hub/api/users/${encodeURIComponent(HOSTILE.slice(0, 400))}?token=${BEARER}`, { headers: { Authorization: `token ${BEARER}` } });
    await api.text();
    assert.ok(api.status >= 400 && api.status < 500);

    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['msg'] === 'failed login');
    assert.ok(failed, `a "failed login" line in:\n${lines.map((l) => l.slice(0, 200)).join('\n')}`);
    const name = failed['username'] as string;
    assert.ok(name.startsWith('mallory\\n{"level":30'), name.slice(0, 80));
    assert.match(name, /…\[clipped \d+ chars\]$/);
    assert.ok(name.length <= LOG_STRING_MAX + 200, `${name.length} chars`);
    assert.equal(lines.filter((l) => l.includes('"msg":"user logged in"')).length, 0, 'no forged line');

    const all = lines.join('\n');
    assert.ok(!all.includes(PASSWORD), 'the submitted password is not logged');
    assert.ok(!all.includes(BEARER), `no token, header or cookie value is logged: ${lines.filter((l) => l.includes(BEARER)).join("\n")}`);
    for (const line of lines) {
      assert.ok(line.length < LOG_STACK_MAX + 4 * LOG_STRING_MAX, `a log line of ${line.length} chars`);
      const strings: string[] = [];
      JSON.parse(line, (key, v: unknown) => {
        if (typeof v === 'string' && key !== 'stack') strings.push(v);
        return v;
      });
      // eslint-disable-next-line no-control-regex
      for (const s of strings) assert.doesNotMatch(s, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/, s.slice(0, 80));
    }
  });
});
