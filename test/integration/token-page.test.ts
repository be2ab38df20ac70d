/**
 * Issue 9 §2 and §3: the token page shows a new token once after a redirect
 * (a reload creates no second token), keeps API tokens apart from authorized
 * OAuth applications, and hides the hub's internal server tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, login, parseForm, waitFor } from '../helpers/e2e.js';
import { createToken, listTokens } from '../../src/db/repos/tokens.js';
import { getServer } from '../../src/db/repos/servers.js';
import { ensureUser } from '../../src/db/repos/users.js';

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** The HTML of the card with `id` (up to the next card). */
function card(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  assert.ok(start >= 0, `no #${id} on the page`);
  const end = html.indexOf('<div class="card"', start);
  return html.slice(start, end < 0 ? undefined : end);
}

describe('the token page', () => {
  let t: TestHub;

  before(async () => {
    t = await startTestHub();
  });
  after(async () => t.stop());

  it('post/redirect/get: the new token is shown once, never in the URL, and a reload creates nothing', async () => {
    const b = new Browser(t.publicUrl);
    await login(b, 'tess', 'test-password');
    const user = await ensureUser(t.hub.db, 'tess');
    const before = (await listTokens(t.hub.db, user.id)).filter((r) => r.kind === 'api').length;
    const form = parseForm((await b.navigate('/hub/token')).text);
    const post = await b.request('/hub/token', { method: 'POST', headers: FORM, body: new URLSearchParams({ ...form.fields, note: 'for my laptop', expires_in: '' }).toString() });
    await post.body?.cancel();
    assert.equal(post.status, 303);
    assert.equal(post.headers.get('location'), '/hub/token');
    const shown = await b.navigate('/hub/token');
    const token = /id="new-token">([0-9a-f]+)</.exec(shown.text)?.[1];
    assert.ok(token, 'the new token is on the page after the redirect');
    assert.equal(shown.headers.get('cache-control'), 'no-store');
    assert.match(shown.text, /for my laptop/);
    const reload = await b.navigate('/hub/token');
    assert.doesNotMatch(reload.text, /id="new-token"/, 'shown once');
    assert.ok(!reload.text.includes(token));
    const after = (await listTokens(t.hub.db, user.id)).filter((r) => r.kind === 'api');
    assert.equal(after.length, before + 1, 'exactly one token created');
    // the token works
    assert.equal((await t.api('GET', '/user', { token })).status, 200);
  });

  it('a new token is shown only to the session that asked for it', async () => {
    const mine = new Browser(t.publicUrl);
    const other = new Browser(t.publicUrl);
    await login(mine, 'tara', 'test-password');
    await login(other, 'tara', 'test-password');
    const form = parseForm((await mine.navigate('/hub/token')).text);
    const post = await mine.request('/hub/token', { method: 'POST', headers: FORM, body: new URLSearchParams({ ...form.fields, note: 'x' }).toString() });
    await post.body?.cancel();
    assert.doesNotMatch((await other.navigate('/hub/token')).text, /id="new-token"/);
    assert.match((await mine.navigate('/hub/token')).text, /id="new-token"/);
  });

  it('lists API tokens and authorized applications apart, hides server tokens, and revokes an application', async () => {
    const apiToken = await t.tokenFor('olga');
    const start = await t.api('POST', '/users/olga/server', { token: apiToken });
    assert.ok(start.status === 201 || start.status === 202);
    const user = await ensureUser(t.hub.db, 'olga');
    await waitFor('olga ready', async () => (await getServer(t.hub.db, user.id, ''))?.ready === 1, { timeoutMs: 15_000 });
    // two OAuth logins to her server (what /hub/api/oauth2/token gives it)
    for (let i = 0; i < 2; i++) await createToken(t.hub.db, user.id, { kind: 'oauth', scopes: ['access:servers!server=olga/'], clientId: 'jupyterhub-user-olga' });
    assert.ok((await listTokens(t.hub.db, user.id)).some((r) => r.kind === 'server'), 'the server has its internal token');
    const b = new Browser(t.publicUrl);
    await login(b, 'olga', 'test-password');
    const page = (await b.navigate('/hub/token')).text;
    const api = card(page, 'api-tokens');
    const apps = card(page, 'authorized-apps');
    assert.equal((api.match(/<tr><td\b/g) ?? []).length, 1, 'one API token');
    assert.doesNotMatch(api, /Server at/, 'no server token among API tokens');
    assert.equal((apps.match(/<tr><td\b/g) ?? []).length, 1, 'one application for two OAuth tokens');
    assert.match(apps, /Server at \/user\/olga\//);
    const revoke = /<form[^>]*action="\/hub\/token\/revoke-app"[\s\S]*?<\/form>/.exec(apps)?.[0];
    assert.ok(revoke);
    const fields = parseForm(revoke).fields;
    const res = await b.request('/hub/token/revoke-app', { method: 'POST', headers: FORM, body: new URLSearchParams(fields).toString() });
    await res.body?.cancel();
    assert.equal(res.status, 303);
    const left = await listTokens(t.hub.db, user.id);
    assert.equal(left.filter((r) => r.kind === 'oauth').length, 0, 'both OAuth tokens revoked');
    assert.equal(left.filter((r) => r.kind === 'api').length, 1, 'the API token kept');
    assert.equal(left.filter((r) => r.kind === 'server').length, 1, 'the server token kept');
    assert.match(card((await b.navigate('/hub/token')).text, 'authorized-apps'), /No applications/);
  });

  it('refuses to revoke a server token or a token of someone else from the page', async () => {
    const b = new Browser(t.publicUrl);
    await login(b, 'olga', 'test-password');
    const form = parseForm((await b.navigate('/hub/token')).text);
    const user = await ensureUser(t.hub.db, 'olga');
    const serverToken = (await listTokens(t.hub.db, user.id)).find((r) => r.kind === 'server')!;
    const other = await ensureUser(t.hub.db, 'tess');
    const othersToken = (await listTokens(t.hub.db, other.id))[0]!;
    for (const id of [serverToken.id, othersToken.id, 'abc', '1e400']) {
      const res = await b.request('/hub/token/revoke', { method: 'POST', headers: FORM, body: new URLSearchParams({ _xsrf: form.fields['_xsrf']!, id: String(id) }).toString() });
      await res.body?.cancel();
      assert.equal(res.status, 404, `id=${id}`);
    }
  });
});
