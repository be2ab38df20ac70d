/**
 * Issue 9, item 1.1 (the proxy's half): route paths with dot segments and
 * other oddities, through the API and in requests.
 *
 * - The API refuses to add a route whose path has a dot segment (`.`, `..`,
 *   percent-encoded, double-encoded), an encoded slash or backslash, a
 *   backslash, an empty segment or a control character: 400 naming it. The
 *   API path is read as sent: `/api/routes/user/..` is not `/api/routes`.
 * - A request path is matched as a browser sees it: `%2F` stays inside its
 *   segment, and a raw dot segment gets a 400 (a browser never sends one).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { hasDotSegment, routePathProblem, routingPath } from '../../src/proxy/builtin/route-path.js';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import type { Echo, Upstream } from './helpers.js';
import { startTestProxy, startUpstream } from './helpers.js';

const TOKEN = 'route-paths-token';

/** One raw request (the path exactly as given) and its answer: status, and the body. */
function raw(port: number, method: string, path: string, headers = '', body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      let body = text.slice(head.length + 4);
      if (/\r\ntransfer-encoding: chunked/i.test(head)) body = dechunk(body);
      resolve({ status, body });
    });
    socket.on('error', reject);
    const length = body === '' ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${headers}${length}\r\n${body}`, 'latin1');
  });
}

/** The data of a chunked body. */
function dechunk(body: string): string {
  let out = '';
  for (let pos = 0; ; ) {
    const eol = body.indexOf('\r\n', pos);
    const size = parseInt(body.slice(pos, eol), 16);
    if (!(size > 0)) return out;
    out += body.slice(eol + 2, eol + 2 + size);
    pos = eol + 2 + size + 2;
  }
}

describe('issue 9: route paths in the proxy API', () => {
  let proxy: RunningProxy;
  const post = (path: string): Promise<{ status: number; body: string }> =>
    raw(proxy.apiPort, 'POST', `/api/routes${path}`, `Authorization: token ${TOKEN}\r\n`, JSON.stringify({ target: 'http://127.0.0.1:9' }));

  before(async () => {
    proxy = await startTestProxy({ authToken: TOKEN });
  });
  after(async () => {
    await proxy.close();
  });

  const refused: [string, RegExp][] = [
    ['/user/..', /dot segment/],
    ['/user/../', /dot segment/],
    ['/user/.', /dot segment/],
    ['/..', /dot segment/],
    ['/user/%2e%2e', /dot segment/],
    ['/user/%2E%2e/', /dot segment/],
    ['/user/.%2e', /dot segment/],
    ['/user/%2e', /dot segment/],
    ['/user/%252e%252e', /dot segment/],
    ['/user/alice/../bob', /dot segment/],
    ['/user/alice/%2e%2e/bob', /dot segment/],
    ['/user/..%2f', /encoded slash/],
    ['/user/alice%2Fbob', /encoded slash/],
    ['/user/a%5Cb', /encoded slash/],
    ['/user/a\\b', /backslash/],
    ['/user/..\\', /backslash/],
    ['/user//alice', /empty segment/],
    ['/user/a%00b', /control character/],
    ['/user/a%0Ab', /control character/],
    ['/user/a%0d%0aX-Injected:%201', /control character/],
    ['/user/a%7Fb', /control character/],
  ];
  for (const [path, problem] of refused) {
    it(`POST ${path}: 400 naming the problem, and no route is added`, async () => {
      const before = proxy.table.size;
      const res = await post(path);
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, problem);
      assert.equal(proxy.table.size, before);
      assert.equal(proxy.table.get('/'), undefined, 'no root route');
    });
  }

  for (const path of ['/user/alice', '/user/alice/', '/user/a.b', '/user/.hidden', '/user/...', '/user/a%20b', '/user/a%25b', '/user/a@b', '/']) {
    it(`POST ${path}: added`, async () => {
      const res = await post(path);
      assert.equal(res.status, 201, res.body);
    });
  }

  it('GET and DELETE read the path as sent: /api/routes/user/.. is not the root route', async () => {
    proxy.table.set('/', { target: 'http://127.0.0.1:9' });
    const auth = `Authorization: token ${TOKEN}\r\n`;
    assert.equal((await raw(proxy.apiPort, 'DELETE', '/api/routes/user/..', auth)).status, 404);
    assert.equal((await raw(proxy.apiPort, 'DELETE', '/api/routes/user/%2e%2e', auth)).status, 404);
    assert.equal((await raw(proxy.apiPort, 'GET', '/api/routes/x/..', auth)).status, 404);
    assert.notEqual(proxy.table.get('/'), undefined, 'the root route is still there');
  });

  it('routePathProblem, routingPath and hasDotSegment', () => {
    assert.equal(routePathProblem('/user/alice', '/user/alice'), undefined);
    assert.equal(routingPath('/user/a%20b/x%2Fy%5cz'), '/user/a b/x%2Fy%5cz');
    assert.equal(routingPath('/bad%zz'), '/bad%zz');
    for (const p of ['/.', '/..', '/a/./b', '/a/../b', '/a/..', '/a/.']) assert.equal(hasDotSegment(p), true, p);
    for (const p of ['/', '/a', '/.a', '/a/.b/c', '/a/b.', '/a/...', '/a/..b', '/a/b..']) assert.equal(hasDotSegment(p), false, p);
  });
});

describe('issue 9: request paths with dot segments and encoded slashes', () => {
  let proxy: RunningProxy;
  let hub: Upstream;
  let alice: Upstream;
  let bob: Upstream;
  before(async () => {
    [hub, alice, bob] = await Promise.all([startUpstream('hub'), startUpstream('alice'), startUpstream('bob')]);
    proxy = await startTestProxy();
    proxy.table.set('/', { target: hub.url });
    proxy.table.set('/user/alice', { target: alice.url });
    proxy.table.set('/user/bob', { target: bob.url });
  });
  after(async () => {
    await proxy.close();
    await Promise.all([hub.close(), alice.close(), bob.close()]);
  });

  const get = async (path: string): Promise<{ status: number; echo?: Echo; body: string }> => {
    const res = await raw(proxy.publicPort, 'GET', path);
    return res.status === 200 ? { ...res, echo: JSON.parse(res.body) as Echo } : res;
  };

  for (const path of ['/user/bob/../alice/api', '/user/bob/%2e%2e/alice/', '/user/bob/%2E./alice', '/user/bob/.%2E/alice', '/user/alice/.', '/user/alice/..', '/user/alice/./x', '/%2e%2e/user/alice']) {
    it(`GET ${path}: 400 naming the dot segment, no target sees it`, async () => {
      const res = await get(path);
      assert.equal(res.status, 400);
      // a page for a browser, {status, message} for a path with an `api` segment (own-answers.test.ts)
      assert.match(res.body, /(&#39;|')\.(&#39;|') or (&#39;|')\.\.(&#39;|') segment/);
    });
  }

  const routed: [string, string][] = [
    // An encoded slash stays in its segment, as a browser sees the path: not alice's, not bob's.
    ['/user/alice%2F..%2Fbob/', 'hub'],
    ['/user/bob%2Fx', 'hub'],
    ['/user/bob%2fx/y', 'hub'],
    ['/user/alice%5Cx', 'hub'],
    // Dots inside a segment are ordinary characters.
    ['/user/alice/.ipynb_checkpoints/x', 'alice'],
    ['/user/alice/a..b', 'alice'],
    ['/user/alice/...', 'alice'],
    ['/user/a%6Cice/x', 'alice'],
    ['/user/bob/files/a%2Fb', 'bob'],
  ];
  for (const [path, name] of routed) {
    it(`GET ${path} goes to ${name}, the path forwarded as sent`, async () => {
      const res = await get(path);
      assert.equal(res.status, 200, res.body);
      assert.equal(res.echo?.name, name);
      assert.equal(res.echo?.url, path);
    });
  }

  it('a websocket upgrade with a dot segment gets 400 too', async () => {
    const res = await raw(proxy.publicPort, 'GET', '/user/bob/../alice/ws', 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n');
    assert.equal(res.status, 400);
    assert.match(res.body, /segment/);
  });
});

describe('issue 9: absolute-form request targets are read as sent', () => {
  let proxy: RunningProxy;
  let alice: Upstream;
  before(async () => {
    alice = await startUpstream('alice');
    proxy = await startTestProxy({ authToken: TOKEN });
    proxy.table.set('/user/alice', { target: alice.url });
  });
  after(async () => {
    await proxy.close();
    await alice.close();
  });

  it('the API refuses POST http://host/api/routes/user/.. instead of adding the root route', async () => {
    const body = JSON.stringify({ target: 'http://127.0.0.1:9' });
    const res = await raw(proxy.apiPort, 'POST', `http://127.0.0.1:${proxy.apiPort}/api/routes/user/..`, `Authorization: token ${TOKEN}\r\n`, body);
    assert.equal(res.status, 400, res.body);
    assert.equal(proxy.table.get('/'), undefined);
  });

  it('the public port forwards an absolute-form path as sent, and refuses one with a dot segment', async () => {
    const ok = await raw(proxy.publicPort, 'GET', 'http://h/user/alice/x%2Fy?q=1#frag');
    assert.equal(ok.status, 200, ok.body);
    assert.equal((JSON.parse(ok.body) as Echo).url, '/user/alice/x%2Fy?q=1');
    assert.equal((await raw(proxy.publicPort, 'GET', 'http://h/user/bob/../alice/')).status, 400);
  });
});
