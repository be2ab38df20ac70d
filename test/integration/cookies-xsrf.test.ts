import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, testHubConfig, type TestHub } from '../helpers/hub.js';
import { cookieHeader, httpRequest, storeCookies, type RawResponse } from '../helpers/raw-http.js';

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** A client with a cookie jar, talking to `base` without following redirects. */
class Client {
  jar = new Map<string, string>();
  constructor(private readonly base: string) {}

  async send(method: string, target: string, opts: { form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {}): Promise<RawResponse> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (this.jar.size) headers['Cookie'] = cookieHeader(this.jar);
    let body: string | undefined;
    if (opts.form) {
      Object.assign(headers, FORM);
      body = new URLSearchParams(opts.form).toString();
    } else if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    const res = await httpRequest(this.base, target, { method, headers, ...(body !== undefined ? { body } : {}) });
    storeCookies(this.jar, res.headers['set-cookie']);
    return res;
  }

  /** The `_xsrf` field of a page's form. */
  async field(target: string): Promise<string> {
    const res = await this.send('GET', target);
    const m = /name="_xsrf" value="([^"]+)"/.exec(res.body);
    assert.ok(m, `no _xsrf field on ${target} (${res.status})`);
    return m[1]!;
  }

  /** Logs in as a Tornado-based client does: the `_xsrf` cookie's value posted as the form's `_xsrf`. */
  async login(name: string): Promise<void> {
    await this.send('GET', '/hub/login');
    const cookie = this.jar.get('_xsrf');
    assert.ok(cookie, 'the login page sets an _xsrf cookie');
    const res = await this.send('POST', '/hub/login', { form: { _xsrf: cookie, username: name, password: 'test-password' } });
    assert.equal(res.status, 302, res.body);
  }
}

function setCookies(res: RawResponse): string[] {
  return res.headers['set-cookie'] ?? [];
}

describe('cookies: Secure behind TLS proxies, XSRF bound to the login session, security headers', () => {
  let t: TestHub;

  before(async () => {
    t = await startTestHub();
  });
  after(async () => t.stop());

  describe('the Secure flag follows the client-side protocol', () => {
    const login = (base: string, proto: string | undefined) =>
      httpRequest(base, '/hub/login', {
        method: 'POST',
        headers: { ...FORM, ...(proto === undefined ? {} : { 'X-Forwarded-Proto': proto }) },
        body: new URLSearchParams({ username: 'alice', password: 'test-password' }).toString(),
      });

    for (const [proto, secure] of [
      ['https,http', true],
      ['https, http', true],
      ['HTTPS', true],
      ['https', true],
      ['http,https', false],
      ['http', false],
      [undefined, false],
    ] as const) {
      it(`X-Forwarded-Proto: ${proto ?? '(none)'} from a trusted (loopback) proxy: ${secure ? '' : 'no '}Secure`, async () => {
        const res = await login(t.hubUrl, proto);
        assert.equal(res.status, 302);
        const cookies = setCookies(res);
        assert.ok(cookies.length >= 3, cookies.join('\n'));
        for (const c of cookies) assert.equal(/;\s*Secure/i.test(c), secure, c);
      });
    }

    it('through the real proxy, which appends its own hop (https,http): Secure, and the login page _xsrf cookie too', async () => {
      const res = await login(t.publicUrl, 'https');
      assert.equal(res.status, 302);
      for (const c of setCookies(res)) assert.match(c, /;\s*Secure/i);
      const page = await httpRequest(t.publicUrl, '/hub/login', { headers: { 'X-Forwarded-Proto': 'https' } });
      assert.match(setCookies(page).find((c) => c.startsWith('_xsrf=')) ?? '', /;\s*Secure/i);
    });
  });

  describe('XSRF tokens', () => {
    it('a Tornado-style client posts the _xsrf cookie value: login, page forms and the API accept it', async () => {
      const c = new Client(t.publicUrl);
      await c.login('tornado');
      const cookie = c.jar.get('_xsrf')!;
      const form = await c.send('POST', '/hub/token', { form: { _xsrf: cookie, note: 'from cookie' } });
      assert.equal(form.status, 303, form.body); // post/redirect/get: the token is shown by the GET
      const api = await c.send('POST', '/hub/api/users/tornado/tokens', { json: { note: 'from header' }, headers: { 'X-XSRFToken': c.jar.get('_xsrf')! } });
      assert.equal(api.status, 201, api.body);
      const query = await c.send('POST', `/hub/api/users/tornado/tokens?_xsrf=${encodeURIComponent(c.jar.get('_xsrf')!)}`, { json: { note: 'from query' } });
      assert.equal(query.status, 201, query.body);
      const none = await c.send('POST', '/hub/api/users/tornado/tokens', { json: { note: 'no token' } });
      assert.equal(none.status, 403, none.body);
      // the field on the page and the cookie are the same token
      assert.equal(await c.field('/hub/token'), c.jar.get('_xsrf'));
    });

    it('a logged-in client that logs in again posts its current _xsrf cookie: accepted', async () => {
      const c = new Client(t.publicUrl);
      await c.login('gina');
      const again = await c.send('POST', '/hub/login', { form: { _xsrf: c.jar.get('_xsrf')!, username: 'gina', password: 'test-password' } });
      assert.equal(again.status, 302, again.body);
    });

    it("one user's token does not validate another user's request (forms and API)", async () => {
      const alice = new Client(t.publicUrl);
      const bob = new Client(t.publicUrl);
      await alice.login('alice');
      await bob.login('bob');
      const aliceToken = await alice.field('/hub/token');
      const before = await t.hub.db.selectFrom('api_tokens').select('id').execute();
      const form = await bob.send('POST', '/hub/token', { form: { _xsrf: aliceToken, note: 'forged' } });
      assert.equal(form.status, 403, form.body);
      assert.match(form.body, /_xsrf/);
      const api = await bob.send('POST', '/hub/api/users/bob/tokens', { json: { note: 'forged' }, headers: { 'X-XSRFToken': aliceToken } });
      assert.equal(api.status, 403, api.body);
      assert.equal((await t.hub.db.selectFrom('api_tokens').select('id').execute()).length, before.length);
      // and with bob's own cookie jar holding alice's token as its _xsrf cookie (cookie tossing): still refused
      bob.jar.set('_xsrf', aliceToken);
      const tossed = await bob.send('POST', '/hub/token', { form: { _xsrf: aliceToken, note: 'forged' } });
      assert.equal(tossed.status, 403, tossed.body);
    });

    it("a token of the same user's other session does not validate", async () => {
      const first = new Client(t.publicUrl);
      const second = new Client(t.publicUrl);
      await first.login('carol');
      await second.login('carol');
      const res = await second.send('POST', '/hub/token', { form: { _xsrf: await first.field('/hub/token'), note: 'x' } });
      assert.equal(res.status, 403, res.body);
    });

    it("logged out: another browser's token is refused at login (bound to the browser's own cookie)", async () => {
      const attacker = new Client(t.publicUrl);
      const token = await attacker.field('/hub/login');
      const victim = new Client(t.publicUrl);
      await victim.send('GET', '/hub/login');
      const res = await victim.send('POST', '/hub/login', { form: { _xsrf: token, username: 'mallory', password: 'test-password' } });
      assert.equal(res.status, 403, res.body);
      assert.equal(victim.jar.has('jupyterhub-hub-login'), false);
      const none = await new Client(t.publicUrl).send('POST', '/hub/login', { form: { _xsrf: token, username: 'mallory', password: 'test-password' } });
      assert.equal(none.status, 403);
    });

    it('a malformed or foreign token is a 403 naming _xsrf, never a 5xx', async () => {
      const c = new Client(t.publicUrl);
      await c.login('dave');
      for (const bad of ['', 'x', 'a.b', `${'A'.repeat(22)}.${'B'.repeat(43)}`, 'x'.repeat(5000), '..', '%00']) {
        const res = await c.send('POST', '/hub/token', { form: { _xsrf: bad } });
        assert.equal(res.status, 403, `${JSON.stringify(bad)}: ${res.body.slice(0, 200)}`);
      }
    });

    it('after logout and a new login the old token no longer validates', async () => {
      const c = new Client(t.publicUrl);
      await c.login('erin');
      const old = await c.field('/hub/token');
      await c.send('GET', '/hub/logout');
      await c.login('erin');
      const res = await c.send('POST', '/hub/token', { form: { _xsrf: old } });
      assert.equal(res.status, 403);
    });
  });

  describe('security headers', () => {
    it('hub pages, redirects, errors and API answers carry the defaults', async () => {
      for (const target of ['/hub/login', '/hub/home', '/hub/api/', '/hub/api/users', '/hub/nothing', '/hub/api/nothing']) {
        const res = await httpRequest(t.publicUrl, target);
        assert.equal(res.headers['content-security-policy'], "frame-ancestors 'self'", target);
        assert.equal(res.headers['x-content-type-options'], 'nosniff', target);
        assert.equal(res.headers['referrer-policy'], 'same-origin', target);
      }
    });

    it('the headers option replaces or removes a default and adds others', async () => {
      const h = await startTestHub({ headers: { 'content-security-policy': "frame-ancestors 'none'", 'Referrer-Policy': '', 'X-Extra': 'yes' } });
      try {
        const res = await httpRequest(h.hubUrl, '/hub/login');
        assert.equal(res.headers['content-security-policy'], "frame-ancestors 'none'");
        assert.equal(res.headers['referrer-policy'], undefined);
        assert.equal(res.headers['x-extra'], 'yes');
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
      } finally {
        await h.stop();
      }
    });

    it('a header name or value that cannot be sent is a config error', () => {
      assert.throws(() => testHubConfig('/tmp/x', 1, { headers: { 'Bad Name': 'x' } }), /headers/);
      assert.throws(() => testHubConfig('/tmp/x', 1, { headers: { 'X-Ok': 'a\r\nSet-Cookie: x=y' } }), /headers/);
    });
  });
});
