import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { cookieHeader, httpRequest, storeCookies, type RawResponse } from '../helpers/raw-http.js';
import { localRedirectTarget } from '../../src/web/redirect.js';
import { upsertClient } from '../../src/db/repos/oauth.js';

/**
 * Every redirect built from a request stays on the hub as a browser reads it
 * (WHATWG URL parsing: tabs and newlines stripped, `\` read as `/`, `//host`
 * leaving the site), and none is a 5xx (an invalid `Location` made Fastify throw).
 */

/** Hostile `next` values, as the decoded string the hub sees. */
const HOSTILE_NEXT = [
  '/\t/e.com',
  '/\n/e.com',
  '/\r\n/e.com',
  '/\r/e.com',
  '/\u000b/e.com',
  '/\u000c/e.com',
  '/\u0000/e.com',
  '/\u007f/e.com',
  '/\u0085/e.com',
  '/\u00a0/e.com',
  '/\u1680/e.com',
  '/\u2000/e.com',
  '/\u200b/e.com',
  '/\u2028/e.com',
  '/\u2029/e.com',
  '/\u202e/e.com',
  '/\u3000/e.com',
  '/\ufeff/e.com',
  '\t//e.com',
  ' //e.com',
  '\\e.com',
  '\\\\e.com',
  '/\\e.com',
  '/\\/e.com',
  '\\/e.com',
  '//e.com',
  '///e.com',
  '//e.com/hub/home',
  '/.//e.com',
  '/./..//e.com',
  '/a/..//e.com',
  '/%2e%2e//e.com',
  '/.%2e//e.com',
  '/%2E//e.com',
  '/%2f/e.com',
  '/%2f%2fe.com',
  '/%5c/e.com',
  '/%09/e.com',
  '/%0a/e.com',
  '/%E3%80%80/e.com',
  'https://e.com',
  'https:e.com',
  'https:/e.com',
  'http://127.0.0.1@e.com',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'e.com',
  '.e.com',
  '',
  '/\ud800/e.com',
  '/x'.repeat(5000),
];

/** Percent-encodes a query value; a lone surrogate goes out as the invalid UTF-8 bytes of one. */
function enc(value: string): string {
  return value
    .split(/([\ud800-\udfff])/)
    .map((part) => (/^[\ud800-\udfff]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');
}

/** A Location must be plain ASCII (no control characters, spaces or backslashes) and resolve to `origin`. */
function assertStaysOn(origin: string, res: RawResponse, what: string, notRunningPage = false): void {
  // the not-running page is an answer about the server, not an error (503 today, 424 as JupyterHub's)
  assert.ok(res.status < 500 || (notRunningPage && (res.status === 503 || res.status === 424)), `${what}: ${res.status} ${res.body.slice(0, 200)}`);
  const location = res.headers.location;
  if (location === undefined) return;
  assert.match(location, /^[\x21-\x5b\x5d-\x7e]+$/, `${what}: Location ${JSON.stringify(location)}`);
  assert.ok(location.startsWith('/') && !location.startsWith('//'), `${what}: Location ${JSON.stringify(location)}`);
  assert.equal(new URL(location, `${origin}/hub/login`).origin, origin, `${what}: Location ${JSON.stringify(location)}`);
}

describe('redirects stay on the hub', () => {
  let t: TestHub;
  let origin: string;
  const jar = new Map<string, string>();

  before(async () => {
    t = await startTestHub();
    origin = t.publicUrl;
    const res = await httpRequest(origin, '/hub/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'alice', password: 'test-password' }).toString(),
    });
    assert.equal(res.status, 302);
    storeCookies(jar, res.headers['set-cookie']);
    await upsertClient(t.hub.db, { identifier: 'test-client', secret: 'x', redirectUri: '/user/alice/oauth_callback', description: '', allowedScopes: [], userId: null, serverName: null });
  });
  after(async () => t.stop());

  it('localRedirectTarget refuses every hostile target and keeps plain paths', () => {
    for (const next of HOSTILE_NEXT) {
      const out = localRedirectTarget(next);
      if (out === undefined) continue;
      assert.ok(out.startsWith('/') && !out.startsWith('//') && /^[\x21-\x7e]+$/.test(out), `${JSON.stringify(next)} -> ${JSON.stringify(out)}`);
      assert.equal(new URL(out, 'https://hub.example').origin, 'https://hub.example');
    }
    assert.equal(localRedirectTarget('/user/alice/lab?x=1#cell'), '/user/alice/lab?x=1#cell');
    assert.equal(localRedirectTarget('/user/émile/'), '/user/%C3%A9mile/');
    assert.equal(localRedirectTarget('/hub/../user/a/'), '/user/a/');
    assert.equal(localRedirectTarget('/%2e%2e//e.com'), undefined);
    assert.equal(localRedirectTarget('/\t/e.com'), undefined);
    assert.equal(localRedirectTarget(['/a']), undefined);
  });

  const entryPoints: { name: string; send: (next: string) => Promise<RawResponse> }[] = [
    { name: 'GET /hub/login (logged in)', send: (next) => httpRequest(origin, `/hub/login?next=${enc(next)}`, { headers: { Cookie: cookieHeader(jar) } }) },
    { name: 'GET /hub/login (logged out)', send: (next) => httpRequest(origin, `/hub/login?next=${enc(next)}`) },
    {
      name: 'POST /hub/login',
      send: (next) =>
        httpRequest(origin, `/hub/login?next=${enc(next)}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ username: 'bob', password: 'test-password' }).toString(),
        }),
    },
    { name: 'GET /hub/logout (logged out)', send: (next) => httpRequest(origin, `/hub/logout?next=${enc(next)}`) },
    { name: 'GET /hub/spawn (logged out)', send: (next) => httpRequest(origin, `/hub/spawn?next=${enc(next)}`) },
    { name: 'GET /hub/home (logged out, next from the URL)', send: (next) => httpRequest(origin, `/hub/home?x=${enc(next)}`) },
    { name: 'GET /hub/oauth2/authorize (logged out)', send: (next) => httpRequest(origin, `/hub/api/oauth2/authorize?client_id=test-client&response_type=code&redirect_uri=%2Fuser%2Falice%2Foauth_callback&state=${enc(next)}`) },
  ];

  for (const entry of entryPoints) {
    it(`${entry.name}: every hostile next stays on the hub, no 5xx`, async () => {
      for (const next of HOSTILE_NEXT) {
        const res = await entry.send(next);
        assertStaysOn(origin, res, `${entry.name} next=${JSON.stringify(next)}`);
        if (entry.name.includes('logged out') && entry.name.startsWith('GET /hub/login')) {
          // the login form carries next on: only in its normalised, safe form
          const action = /action="([^"]*)"/.exec(res.body)?.[1] ?? '';
          const carried = new URLSearchParams(action.replaceAll('&amp;', '&').split('?')[1] ?? '').get('next');
          if (carried !== null) assert.equal(carried, localRedirectTarget(next), `login form next for ${JSON.stringify(next)}`);
        }
      }
    });
  }

  it('a safe next is followed after login, normalised', async () => {
    const res = await httpRequest(origin, `/hub/login?next=${encodeURIComponent('/user/alice/lab/tree/a%20b.ipynb?x=1#cell-é')}`, { headers: { Cookie: cookieHeader(jar) } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/user/alice/lab/tree/a%20b.ipynb?x=1#cell-%C3%A9');
  });

  /** Raw path suffixes for the path-keeping redirects (sent byte for byte). */
  const HOSTILE_PATHS = [
    '%09/e.com',
    '%0d%0aSet-Cookie:%20x=y',
    '%0b/e.com',
    '%00',
    '%E3%80%80/e.com',
    '%5c/e.com',
    '/e.com',
    '//e.com',
    '%2f/e.com',
    '%2e%2e/%2e%2e/%2e%2e//e.com',
    '..%2f..%2f..%2f%2fe.com',
    '%2e%2e%2f%2e%2e%2f%2e%2e%2f%2fe.com',
    'x?next=%0a',
    '%ff%fe',
    'caf%C3%A9/%20x',
  ];
  const pathEntryPoints: { name: string; prefix: string; cookie: boolean }[] = [
    { name: 'GET /user-redirect/* (logged in)', prefix: '/user-redirect/', cookie: true },
    { name: 'GET /user-redirect/* (logged out)', prefix: '/user-redirect/', cookie: false },
    { name: 'GET /user/* (no route)', prefix: '/user/', cookie: false },
    { name: 'GET /hub/user/* (not running)', prefix: '/hub/user/alice/', cookie: true },
  ];
  for (const entry of pathEntryPoints) {
    it(`${entry.name}: every hostile path stays on the hub, no 5xx`, async () => {
      for (const suffix of HOSTILE_PATHS) {
        const res = await httpRequest(origin, `${entry.prefix}${suffix}`, entry.cookie ? { headers: { Cookie: cookieHeader(jar) } } : {});
        assertStaysOn(origin, res, `${entry.name} ${entry.prefix}${suffix}`, entry.prefix.startsWith('/hub/user/'));
      }
    });
  }

  it('GET /hub/user/* of a running server (route restored, browser sent back): every hostile path stays on the hub', async () => {
    const token = await t.tokenFor('alice');
    const start = await t.api('POST', '/users/alice/server', { token });
    assert.ok(start.status === 201 || start.status === 202, start.text);
    for (let i = 0; i < 100; i++) {
      const row = await t.hub.db.selectFrom('servers').select(['ready', 'pending']).executeTakeFirst();
      if (row?.ready && !row.pending) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const back = await httpRequest(t.hubUrl, '/hub/user/alice/tree/x.ipynb?a=1', { headers: { Cookie: cookieHeader(jar) } });
    assert.equal(back.status, 302, back.body.slice(0, 200));
    assert.equal(back.headers.location, '/user/alice/tree/x.ipynb?a=1');
    for (const suffix of HOSTILE_PATHS) {
      const res = await httpRequest(t.hubUrl, `/hub/user/alice/${suffix}`, { headers: { Cookie: cookieHeader(jar) } });
      assertStaysOn(origin, res, `running server /hub/user/alice/${suffix}`);
    }
    await t.api('DELETE', '/users/alice/server', { token });
  });

  it('user-redirect keeps the rest of the path and the query', async () => {
    const res = await httpRequest(origin, '/user-redirect/lab/tree/x.ipynb?kernel=py', { headers: { Cookie: cookieHeader(jar) } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/user/alice/lab/tree/x.ipynb?kernel=py');
  });
});

describe('redirects under a base_url', () => {
  let t: TestHub;
  const jar = new Map<string, string>();

  before(async () => {
    t = await startTestHub({ base_url: '/jh/' });
    const res = await httpRequest(t.publicUrl, '/jh/hub/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: 'alice', password: 'test-password' }).toString(),
    });
    assert.equal(res.status, 302, res.body);
    storeCookies(jar, res.headers['set-cookie']);
  });
  after(async () => t.stop());

  it('user-redirect, /user/* and next keep the prefix and stay on the hub', async () => {
    const cookie = { headers: { Cookie: cookieHeader(jar) } };
    assert.equal((await httpRequest(t.publicUrl, '/jh/user-redirect/lab?x=1', cookie)).headers.location, '/jh/user/alice/lab?x=1');
    assert.equal((await httpRequest(t.publicUrl, '/jh/user/bob/tree', cookie)).headers.location, '/jh/hub/user/bob/tree');
    assert.equal((await httpRequest(t.publicUrl, `/jh/hub/login?next=${encodeURIComponent('/jh/user/alice/')}`, cookie)).headers.location, '/jh/user/alice/');
    for (const next of HOSTILE_NEXT.slice(0, 30)) {
      const res = await httpRequest(t.publicUrl, `/jh/hub/login?next=${enc(next)}`, cookie);
      assertStaysOn(t.publicUrl, res, `base_url next=${JSON.stringify(next)}`);
    }
  });
});
