/**
 * `/hub/user-redirect/…`, JupyterHub's shareable link to "the same path on
 * whoever opens it" (nbgitpuller's `/hub/user-redirect/git-pull?…`): it must
 * work under the hub prefix as well as at the root, keep path and query, send
 * a logged-out browser to login with `next`, and never leave the hub.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { cookieHeader, httpRequest, storeCookies } from '../helpers/raw-http.js';

const HOSTILE = ['//e.com', '/%2f/e.com', '%5c%5ce.com', '..%2f..%2f..%2f%2fe.com', '%2e%2e/%2e%2e//e.com', '%09/e.com', '%ff%fe', 'x?next=%0a'];

for (const base of ['/', '/jh/']) {
  describe(`user-redirect under the hub prefix (base_url ${base})`, () => {
    let t: TestHub;
    const jar = new Map<string, string>();

    before(async () => {
      t = await startTestHub(base === '/' ? {} : { base_url: base });
      const res = await httpRequest(t.publicUrl, `${base}hub/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username: 'alice', password: 'test-password' }).toString(),
      });
      assert.equal(res.status, 302, res.body);
      storeCookies(jar, res.headers['set-cookie']);
    });
    after(async () => t.stop());

    it(`GET ${base}hub/user-redirect/<path> goes to the user's own server, path and query kept`, async () => {
      const res = await httpRequest(t.publicUrl, `${base}hub/user-redirect/git-pull?repo=https%3A%2F%2Fgit.example%2Fr&urlpath=lab`, {
        headers: { Cookie: cookieHeader(jar) },
      });
      assert.equal(res.status, 302, res.body.slice(0, 300));
      assert.equal(res.headers.location, `${base}user/alice/git-pull?repo=https%3A%2F%2Fgit.example%2Fr&urlpath=lab`);
    });

    it('logged out: to the login page, with next back to the link', async () => {
      const res = await httpRequest(t.publicUrl, `${base}hub/user-redirect/lab/tree/x.ipynb`);
      assert.equal(res.status, 302, res.body.slice(0, 300));
      assert.equal(res.headers.location, `${base}hub/login?next=${encodeURIComponent(`${base}hub/user-redirect/lab/tree/x.ipynb`)}`);
    });

    it('hostile rests of the path stay on the hub, no 5xx', async () => {
      for (const suffix of HOSTILE) {
        for (const cookie of [true, false]) {
          const res = await httpRequest(t.publicUrl, `${base}hub/user-redirect/${suffix}`, cookie ? { headers: { Cookie: cookieHeader(jar) } } : {});
          const what = `${base}hub/user-redirect/${suffix} (${cookie ? 'logged in' : 'logged out'}): ${res.status} ${String(res.headers.location)}`;
          assert.ok(res.status < 500, what);
          const location = res.headers.location;
          if (location === undefined) continue;
          assert.match(location, /^\/[\x21-\x5b\x5d-\x7e]*$/, what);
          assert.ok(!location.startsWith('//'), what);
          assert.equal(new URL(location, t.publicUrl).origin, new URL(t.publicUrl).origin, what);
        }
      }
    });
  });
}
