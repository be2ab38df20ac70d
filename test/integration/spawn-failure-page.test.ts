/**
 * Issue 9 §2: a spawn that fails says so (no "starting up", no full bar), with
 * the message, and shows its owner (and admins) the last lines of the
 * server's log; the progress API's failure event carries the message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, login, waitFor } from '../helpers/e2e.js';
import { getServer } from '../../src/db/repos/servers.js';
import { ensureUser } from '../../src/db/repos/users.js';
import { LocalProcessSpawner } from '../../src/spawners/local-process.js';
import { cleanLogTail } from '../../src/hub/progress.js';

/** A "server" that writes 60 numbered lines (and some hostile ones) and exits without listening. */
const FAILING_SERVER = `
for (let i = 1; i <= 60; i++) console.log('line ' + i);
console.error('<script>alert(1)</script> & \\u001b[31mred\\u001b[0m');
console.error('Error: the notebook server could not start');
process.exit(3);
`;

describe('a failed spawn', () => {
  let t: TestHub;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-failing-'));
    const script = path.join(dir, 'failing-server.mjs');
    writeFileSync(script, FAILING_SERVER);
    t = await startTestHub({
      spawner: { kind: 'local-process', cmd: [process.execPath, script] },
      admin_users: ['ada'],
      auth: { kind: 'shared-password', shared_password: 'test-password', admin_password: 'ada-admin-password' },
      roles: [{ name: 'carol-starter', scopes: ['servers!user=carol'], users: ['dave'] }],
    });
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let carol: Browser;

  it('shows its owner the failure and the end of the log, escaped, instead of "starting up"', async () => {
    carol = new Browser(t.publicUrl);
    await login(carol, 'carol', 'test-password');
    const spawn = await carol.request('/hub/spawn/carol');
    await spawn.body?.cancel();
    assert.equal(spawn.status, 302);
    const user = await ensureUser(t.hub.db, 'carol');
    await waitFor('the spawn to fail', async () => (await getServer(t.hub.db, user.id, ''))?.pending === null, { timeoutMs: 20_000 });
    const page = await carol.navigate('/hub/spawn-pending/carol');
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.text, /starting up/);
    assert.doesNotMatch(page.text, /class="progress"/, 'no progress bar');
    assert.match(page.text, /<h1 id="failed">Spawn failed<\/h1>/);
    assert.match(page.text, /id="failure"[^>]*>[^<]*exited before it answered HTTP/);
    const tail = /<pre class="log-tail" id="log-tail">([\s\S]*?)<\/pre>/.exec(page.text)?.[1];
    assert.ok(tail, 'the log tail is on the page');
    const lines = tail.split('\n');
    assert.equal(lines.length, 40, 'the last 40 lines');
    assert.equal(lines.at(-1), 'Error: the notebook server could not start');
    assert.ok(lines.includes('line 60') && !lines.includes('line 22') && lines.includes('line 23'), lines.join('|'));
    assert.ok(tail.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; red'), 'escaped, colour codes removed');
    assert.doesNotMatch(page.text, /<script>alert/);
    assert.ok(!tail.includes('\u001b'));
    assert.match(page.text, /id="retry"/);
  });

  it('shows the log to an admin, not to a user who may only start the server', async () => {
    const admin = new Browser(t.publicUrl);
    await login(admin, 'ada', 'ada-admin-password');
    const seen = await admin.navigate('/hub/spawn-pending/carol');
    assert.match(seen.text, /Spawn failed/);
    assert.match(seen.text, /id="log-tail"/);
    const dave = new Browser(t.publicUrl);
    await login(dave, 'dave', 'test-password');
    const notSeen = await dave.navigate('/hub/spawn-pending/carol');
    assert.equal(notSeen.status, 200);
    assert.match(notSeen.text, /Spawn failed/);
    assert.match(notSeen.text, /exited before it answered HTTP/);
    assert.doesNotMatch(notSeen.text, /id="log-tail"|line 60/);
  });

  it('the progress API ends with a failed event carrying the message, and no log', async () => {
    const token = await t.tokenFor('carol');
    const res = await t.api('GET', '/users/carol/server/progress', { token });
    assert.equal(res.status, 200);
    const events = res.text
      .split('\n\n')
      .filter((chunk) => chunk.startsWith('data: '))
      .map((chunk) => JSON.parse(chunk.slice(6)) as { failed?: boolean; message: string; progress: number });
    const last = events.at(-1)!;
    assert.equal(last.failed, true);
    assert.equal(last.progress, 100);
    assert.match(last.message, /^Spawn failed: .*exited before it answered HTTP/);
    assert.ok(!res.text.includes('line 60'), 'the log is for the page, not the event stream');
  });

  it("a link into the server after the failure leads to the failure page, keeping the link's path", async () => {
    const page = await carol.navigate('/user/carol/lab/tree/x.ipynb');
    assert.equal(page.status, 200);
    assert.equal(new URL(page.url).pathname, '/hub/spawn-pending/carol');
    assert.equal(new URL(page.url).searchParams.get('next'), '/user/carol/lab/tree/x.ipynb');
    assert.match(page.text, /Spawn failed/);
    assert.match(page.text, /href="\/hub\/spawn\/carol\?next=%2Fuser%2Fcarol%2Flab%2Ftree%2Fx\.ipynb">Try again/);
  });

  it('the home page links to why the last start failed', async () => {
    const home = await carol.navigate('/hub/home');
    assert.match(home.text, /id="server-status">stopped<\/strong> <a class="failed-note" href="\/hub\/spawn-pending\/carol">/);
  });

  it('reloading the failure page shows the failure again and starts nothing', async () => {
    const user = await ensureUser(t.hub.db, 'carol');
    // a reload of the pending page while it fails shows the failure again, not a new spawn
    const again = await carol.navigate('/hub/spawn-pending/carol');
    assert.match(again.text, /Spawn failed/);
    assert.equal((await getServer(t.hub.db, user.id, ''))?.pending, null);
  });
});

describe('the local-process spawner log tail', () => {
  it('returns the last lines within the byte limit, whole lines only; nothing for a missing file, a link, a hard link or a FIFO', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ganymede-tail-'));
    try {
      const file = path.join(dir, 'server.log');
      writeFileSync(file, Array.from({ length: 100 }, (_, i) => `line ${i + 1} ${'x'.repeat(20)}`).join('\n') + '\n');
      const spawner = new LocalProcessSpawner({ cmd: ['true'], args: [], allowRoot: false, ip: '127.0.0.1' });
      const log = pino({ level: 'silent' });
      const five = await spawner.logTail({ v: 1, logFile: file }, { log, lines: 5, maxBytes: 100_000 });
      assert.deepEqual(five?.split('\n'), [96, 97, 98, 99, 100].map((i) => `line ${i} ${'x'.repeat(20)}`));
      const small = (await spawner.logTail({ v: 1, logFile: file }, { log, lines: 40, maxBytes: 100 }))!;
      assert.ok(Buffer.byteLength(small) <= 100);
      assert.ok(small.split('\n').every((l) => /^line \d+ x{20}$/.test(l)), 'no cut line');
      assert.equal(await spawner.logTail({ v: 1, logFile: path.join(dir, 'missing.log') }, { log, lines: 40, maxBytes: 100 }), undefined);
      assert.equal(await spawner.logTail({ v: 1 }, { log, lines: 40, maxBytes: 100 }), undefined);
      // a log the server's user replaced by a link to a hub secret (or a FIFO) is not read
      const secret = path.join(dir, 'cookie_secret');
      writeFileSync(secret, 'the-hub-secret\n');
      const linked = path.join(dir, 'linked.log');
      symlinkSync(secret, linked);
      assert.equal(await spawner.logTail({ v: 1, logFile: linked }, { log, lines: 40, maxBytes: 1000 }), undefined);
      mkdirSync(path.join(dir, 'real-dir'));
      writeFileSync(path.join(dir, 'real-dir', 'server.log'), 'another server\'s log\n');
      symlinkSync(path.join(dir, 'real-dir'), path.join(dir, 'dir-link'));
      assert.equal(await spawner.logTail({ v: 1, logFile: path.join(dir, 'dir-link', 'server.log') }, { log, lines: 40, maxBytes: 1000 }), undefined);
      // a link above the server's own directory (e.g. a data dir on another disk) is fine
      symlinkSync(dir, path.join(dir, 'data-link'));
      assert.equal(await spawner.logTail({ v: 1, logFile: path.join(dir, 'data-link', 'real-dir', 'server.log') }, { log, lines: 40, maxBytes: 1000 }), "another server's log");
      const hard = path.join(dir, 'hard.log');
      linkSync(secret, hard);
      assert.equal(await spawner.logTail({ v: 1, logFile: hard }, { log, lines: 40, maxBytes: 1000 }), undefined);
      const fifo = path.join(dir, 'fifo.log');
      execFileSync('mkfifo', [fifo]);
      assert.equal(await spawner.logTail({ v: 1, logFile: fifo }, { log, lines: 40, maxBytes: 1000 }), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the hub keeps no control characters and a bounded size', () => {
    assert.equal(cleanLogTail('a\u001b[1;31mb\u001b[0m\u0007c\td\r\n'), 'ab' + 'c\td\n');
    assert.ok(cleanLogTail('y'.repeat(100_000)).length <= 8192);
  });
});
