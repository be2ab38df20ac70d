/**
 * Every answer the proxy writes itself on the public port (its error pages,
 * a request it refuses, one node's parser refuses, a refused upgrade) carries
 * the security headers the hub's pages carry, and a body naming the problem:
 * JSON `{status, message}` for an API client, a page (or text) otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningProxy } from '../../src/proxy/builtin/server.js';
import { rawRequest, type RawAnswer } from '../helpers/raw-http.js';
import { api, freePort, startTestProxy, startUpstream, type Upstream } from './helpers.js';

function assertOwnAnswer(res: RawAnswer, status: number, json: boolean, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.raw.slice(0, 300)}`);
  const h = res.headers;
  assert.equal(h['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.match(h['content-security-policy'] ?? '', /frame-ancestors 'self'/, `${what}: CSP`);
  assert.equal(h['referrer-policy'], 'same-origin', `${what}: Referrer-Policy`);
  assert.ok(res.body.trim().length > 0, `${what}: a body naming the problem`);
  if (json) {
    assert.match(h['content-type'] ?? '', /^application\/json/, `${what}: JSON`);
    const parsed = JSON.parse(res.body) as { status: unknown; message: unknown };
    assert.equal(parsed.status, status, what);
    assert.equal(typeof parsed.message, 'string', what);
  } else {
    assert.doesNotMatch(h['content-type'] ?? '', /json/, `${what}: not JSON`);
  }
}

describe("the proxy's own answers", () => {
  let proxy: RunningProxy;
  let up: Upstream;
  before(async () => {
    up = await startUpstream('hub');
    const dead = `http://127.0.0.1:${await freePort()}`;
    proxy = await startTestProxy({ defaultTarget: up.url, maxHeaderSize: 4096 });
    await api(proxy, 'POST', '/api/routes/user/alice', { body: { target: dead, user: 'alice', server_name: '' } });
    await api(proxy, 'POST', '/api/routes/services/x', { body: { target: dead } });
  });
  after(async () => {
    await proxy.close();
    await up.close();
  });

  const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`;
  const cases: { what: string; bytes: string; status: number; json: boolean }[] = [
    { what: '503 of a user server, page', bytes: get('/user/alice/lab'), status: 503, json: false },
    { what: '503 of a user server, API path', bytes: get('/user/alice/api/kernels'), status: 503, json: true },
    { what: '503 of a user server, Accept JSON', bytes: get('/user/alice/lab', 'Accept: application/json\r\n'), status: 503, json: true },
    { what: '503 of a service', bytes: get('/services/x/'), status: 503, json: false },
    { what: 'dot segment, page', bytes: get('/user/alice/%2e%2e/'), status: 400, json: false },
    { what: 'dot segment, hub API', bytes: get('/hub/api/users/%2e%2e/x'), status: 400, json: true },
    { what: 'malformed request (bare LF), page', bytes: 'GET /hub/home HTTP/1.1\nHost: x\n\n', status: 400, json: false },
    { what: 'duplicate Content-Length, API', bytes: 'POST /hub/api/users HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', status: 400, json: true },
    { what: 'Content-Length with Transfer-Encoding, API', bytes: 'POST /hub/api/users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, json: true },
    { what: 'obs-fold header', bytes: 'GET /hub/home HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', status: 400, json: false },
    { what: 'headers too large, page', bytes: get('/hub/home', `X-Big: ${'a'.repeat(8000)}\r\n`), status: 431, json: false },
    { what: 'headers too large, API', bytes: get(`/hub/api/users/${'a'.repeat(3000)}`, `X-Big: ${'a'.repeat(3000)}\r\n`), status: 431, json: true },
    { what: 'URL too long (as the hub answers it), API', bytes: get(`/hub/api/users/${'a'.repeat(9000)}`), status: 414, json: true },
    { what: 'URL too long, page', bytes: get(`/hub/${'a'.repeat(9000)}`), status: 414, json: false },
    { what: 'POST upgrade, API', bytes: 'POST /hub/api/x HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n', status: 400, json: true },
    { what: 'h2c upgrade, page', bytes: 'GET /hub/home HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n', status: 400, json: false },
    { what: 'Expect other than 100-continue, page', bytes: 'POST /hub/login HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 0\r\n\r\n', status: 417, json: false },
    { what: 'Expect other than 100-continue, API', bytes: 'POST /hub/api/users HTTP/1.1\r\nHost: x\r\nExpect: x\r\nContent-Length: 0\r\n\r\n', status: 417, json: true },
    { what: 'CONNECT, page', bytes: 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', status: 405, json: false },
    { what: 'CONNECT, API path', bytes: 'CONNECT /hub/api/users HTTP/1.1\r\nHost: x\r\n\r\n', status: 405, json: true },
    { what: 'websocket to a dead target, API', bytes: 'GET /user/alice/api/kernels/k/channels HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', status: 503, json: true },
  ];
  for (const c of cases) {
    it(`${c.what}: ${c.status} with security headers and a ${c.json ? 'JSON' : 'non-JSON'} body`, async () => {
      assertOwnAnswer(await rawRequest(proxy.publicPort, c.bytes), c.status, c.json, c.what);
    });
  }

  it("an answer relayed from the target keeps the target's own headers (nothing added)", async () => {
    const res = await rawRequest(proxy.publicPort, get('/hub/home'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-security-policy'], undefined);
  });
});

describe("a page from --error-target, relayed by the proxy", () => {
  let proxy: RunningProxy;
  let errors: Upstream;
  before(async () => {
    errors = await startUpstream('errors', (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<p>hub error page</p>');
    });
    proxy = await startTestProxy({ errorTarget: `${errors.url}/hub/error` });
    await api(proxy, 'POST', '/api/routes/services/x', { body: { target: `http://127.0.0.1:${await freePort()}` } });
  });
  after(async () => {
    await proxy.close();
    await errors.close();
  });

  it("carries nosniff, Referrer-Policy and frame-ancestors (not default-src: it is the hub's page)", async () => {
    const res = await rawRequest(proxy.publicPort, "GET /services/x/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.equal(res.status, 503, res.raw.slice(0, 300));
    assert.match(res.body, /hub error page/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'same-origin');
    assert.equal(res.headers['content-security-policy'], "frame-ancestors 'self'");
  });
});
