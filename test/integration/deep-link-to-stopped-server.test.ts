/**
 * Issue 9 §2: a deep link into a stopped server keeps its path through the
 * launch (not-running page → spawn → spawn-pending → the page asked for), and
 * the not-running answer is JupyterHub's 424, as a page and as JSON.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, login, parseForm, waitFor } from '../helpers/e2e.js';
import { getServer } from '../../src/db/repos/servers.js';
import { ensureUser } from '../../src/db/repos/users.js';

function attr(html: string, id: string, name: string): string | undefined {
  const tag = new RegExp(`<[^>]*\\bid="${id}"[^>]*>`).exec(html)?.[0];
  const value = tag ? new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1] : undefined;
  return value?.replaceAll('&amp;', '&').replaceAll('&#39;', "'").replaceAll('&quot;', '"');
}

describe('a deep link to a stopped server', () => {
  let t: TestHub;

  before(async () => {
    t = await startTestHub({ allow_named_servers: true });
  });
  after(async () => t.stop());

  const waitReady = async (name: string, server = '') => {
    const user = await ensureUser(t.hub.db, name);
    await waitFor(`${name}/${server} ready`, async () => (await getServer(t.hub.db, user.id, server))?.ready === 1, { timeoutMs: 15_000 });
  };

  it('answers 424 with a launch link that carries the path, and lands on that path once the server runs', async () => {
    const b = new Browser(t.publicUrl);
    await login(b, 'bob', 'test-password');
    const deep = '/user/bob/notebooks/x.ipynb?kernel=py%203';
    const notRunning = await b.navigate(deep);
    assert.equal(notRunning.status, 424);
    assert.match(notRunning.text, /Server not running/);
    const launch = attr(notRunning.text, 'start', 'href');
    assert.equal(launch, `/hub/spawn/bob?next=${encodeURIComponent(deep)}`);
    const spawn = await b.request(launch!);
    await spawn.body?.cancel();
    assert.equal(spawn.status, 302);
    const pending = spawn.headers.get('location')!;
    assert.equal(pending, `/hub/spawn-pending/bob?next=${encodeURIComponent(deep)}`);
    const pendingPage = await b.request(pending);
    const pendingText = await pendingPage.text();
    if (pendingPage.status === 200) assert.ok(pendingText.includes(JSON.stringify(deep)), 'the progress script goes on to the deep link');
    await waitReady('bob');
    const landed = await b.navigate(pending);
    assert.equal(landed.status, 200);
    assert.equal(new URL(landed.url).pathname + new URL(landed.url).search, deep);
    assert.equal((JSON.parse(landed.text) as { path: string }).path, deep, 'the server got the request for the deep link');
  });

  it('with an options form, the form carries next and its post goes on to spawn-pending with it', async () => {
    t.hub.hooks.optionsForm = () => '<label for="size">Size</label><input id="size" name="size" type="text">';
    try {
      const b = new Browser(t.publicUrl);
      await login(b, 'fiona', 'test-password');
      const deep = '/user/fiona/lab/tree/report.ipynb';
      const launch = `/hub/spawn/fiona?next=${encodeURIComponent(deep)}`;
      const formPage = await b.navigate(launch);
      assert.equal(formPage.status, 200);
      const form = parseForm(formPage.text);
      assert.equal(form.action, launch, 'the form posts back with next');
      const post = await b.request(form.action!, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.fields, size: 'small' }).toString(),
      });
      await post.body?.cancel();
      assert.equal(post.status, 302);
      assert.equal(post.headers.get('location'), `/hub/spawn-pending/fiona?next=${encodeURIComponent(deep)}`);
      await waitReady('fiona');
      const landed = await b.navigate(post.headers.get('location')!);
      assert.equal((JSON.parse(landed.text) as { path: string }).path, deep);
    } finally {
      delete t.hub.hooks.optionsForm;
    }
  });

  it('spawn with a running server goes straight to next', async () => {
    const b = new Browser(t.publicUrl);
    await login(b, 'bob', 'test-password');
    const res = await b.request(`/hub/spawn/bob?next=${encodeURIComponent('/user/bob/tree/sub')}`);
    await res.body?.cancel();
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/user/bob/tree/sub');
  });

  it('drops a next that leaves the hub', async () => {
    const b = new Browser(t.publicUrl);
    await login(b, 'bob', 'test-password');
    for (const bad of ['//evil.example/x', 'https://evil.example/', 'javascript:alert(1)']) {
      const res = await b.request(`/hub/spawn-pending/bob?next=${encodeURIComponent(bad)}`);
      await res.body?.cancel();
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), '/user/bob/', `next=${bad}`);
    }
  });

  it('a named server: the launch link names it and carries the path', async () => {
    const token = await t.tokenFor('nina');
    const made = await t.api('POST', '/users/nina/servers/lab', { token });
    assert.ok(made.status === 201 || made.status === 202);
    await waitReady('nina', 'lab');
    assert.equal((await t.api('DELETE', '/users/nina/servers/lab', { token })).status, 204);
    const b = new Browser(t.publicUrl);
    await login(b, 'nina', 'test-password');
    const page = await b.navigate('/user/nina/lab/lab/tree/a.ipynb');
    assert.equal(page.status, 424);
    assert.equal(attr(page.text, 'start', 'href'), `/hub/spawn/nina/lab?next=${encodeURIComponent('/user/nina/lab/lab/tree/a.ipynb')}`);
  });

  it('an API request to a stopped server gets 424 JSON naming the spawn page, not a login page', async () => {
    for (const [path, headers] of [
      ['/user/zed/api/contents', {}],
      ['/user/zed/files/a.txt', { Accept: 'application/json' }],
    ] as const) {
      const res = await fetch(`${t.publicUrl}${path}`, { headers });
      assert.equal(res.status, 424, path);
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      const body = (await res.json()) as { status: number; message: string };
      assert.equal(body.status, 424);
      assert.match(body.message, /no longer running.*\/hub\/spawn\/zed/);
    }
    const post = await fetch(`${t.publicUrl}/user/zed/api/contents`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
    assert.equal(post.status, 424);
    await post.body?.cancel();
  });

  it('a broken percent-encoding in the path is a 400 page, not a 500', async () => {
    const b = new Browser(t.publicUrl);
    await login(b, 'bob', 'test-password');
    const res = await b.request('/hub/user/%E0%A4%A/tree');
    await res.body?.cancel();
    assert.equal(res.status, 400);
  });
});
