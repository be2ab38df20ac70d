/**
 * Requests node answers (or drops) before Fastify sees them get the hub's
 * error shape (JSON on the API, a page elsewhere) with its security headers,
 * straight and through the proxy: an `Expect` the hub does not meet (anything
 * but `100-continue`) is a 417, `CONNECT` a 405 (node closed the connection
 * without a word). `Expect: 100-continue` still works.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { rawRequest } from '../helpers/raw-http.js';

describe('answers to requests node handles before the router', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub();
  });
  after(async () => t.stop());

  for (const via of ['hub', 'proxy'] as const) {
    for (const [path, json] of [
      ['/hub/api/users', true],
      ['/hub/login', false],
    ] as const) {
      it(`${via}: POST ${path} with Expect: 200-ok is a 417 ${json ? 'JSON' : 'page'} with security headers`, async () => {
        const port = Number(new URL(via === 'hub' ? t.hubUrl : t.publicUrl).port);
        const res = await rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}`);
        assert.equal(res.status, 417, res.raw.slice(0, 300));
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.match(res.headers['content-security-policy'] ?? '', /frame-ancestors 'self'/);
        if (json) assert.deepEqual(Object.keys(JSON.parse(res.body) as object), ['status', 'message']);
        else assert.match(res.headers['content-type'] ?? '', /text\/html/);
        assert.match(res.body, /Expect/);
      });
    }
  }

  it('Expect: 100-continue still works (100, then the answer)', async () => {
    for (const url of [t.hubUrl, t.publicUrl]) {
      const res = await rawRequest(Number(new URL(url).port), 'GET /hub/api/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
      assert.match(res.raw, /HTTP\/1\.1 200 OK/, res.raw.slice(0, 300));
    }
  });

  for (const via of ['hub', 'proxy'] as const) {
    for (const [target, json] of [
      ['/hub/api/users', true],
      ['evil.example:443', false],
    ] as const) {
      it(`${via}: CONNECT ${target} is a 405 ${json ? 'JSON' : 'page'} with security headers, nothing tunnelled`, async () => {
        const port = Number(new URL(via === 'hub' ? t.hubUrl : t.publicUrl).port);
        const res = await rawRequest(port, `CONNECT ${target} HTTP/1.1\r\nHost: x\r\n\r\nGET /hub/api/ HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.equal(res.status, 405, res.raw.slice(0, 300));
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.match(res.headers['content-security-policy'] ?? '', /frame-ancestors 'self'/);
        assert.match(res.headers['content-type'] ?? '', json ? /application\/json/ : /text\/(html|plain)/);
        assert.match(res.body, /CONNECT/);
        assert.equal(res.raw.split('HTTP/1.1 ').length - 1, 1, 'one answer only: the bytes after CONNECT are not served');
      });
    }
  }

  it('a URL too long for the request head: 414 JSON straight and through the proxy, alike', async () => {
    for (const url of [t.hubUrl, t.publicUrl]) {
      const res = await rawRequest(Number(new URL(url).port), `GET /hub/api/users/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(res.status, 414, `${url}: ${res.raw.slice(0, 200)}`);
      assert.equal((JSON.parse(res.body) as { status: number }).status, 414);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
  });

  it("a malformed request's 400 names what node's parser found (a bare LF is not an unsupported version)", async () => {
    const res = await rawRequest(Number(new URL(t.hubUrl).port), 'GET /hub/api/ HTTP/1.1\nHost: x\n\n');
    assert.equal(res.status, 400, res.raw.slice(0, 300));
    assert.match((JSON.parse(res.body) as { message: string }).message, /CRLF/);
  });
});
