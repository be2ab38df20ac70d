/**
 * The Secure flag behind a TLS terminator that says so in other spellings
 * than one `X-Forwarded-Proto` line: RFC 7239 `Forwarded: proto=https` (with
 * the hub's own proxy adding `X-Forwarded-Proto: http` for its hop), repeated
 * `X-Forwarded-Proto` lines, odd case and spaces; and none of it believed from
 * a peer that is not a trusted proxy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { rawRequest } from '../helpers/raw-http.js';
import { forwardedProto } from '../../src/lib/forwarded-header.js';

const BODY = 'username=alice&password=test-password';

/** Logs in with raw header lines; whether every cookie set has the Secure flag (undefined: none set). */
async function secureAfterLogin(url: string, headerLines: string[]): Promise<boolean> {
  const head = [
    'POST /hub/login HTTP/1.1',
    'Host: hub.example',
    'Content-Type: application/x-www-form-urlencoded',
    `Content-Length: ${BODY.length}`,
    'Connection: close',
    ...headerLines,
  ];
  const res = await rawRequest(Number(new URL(url).port), `${head.join('\r\n')}\r\n\r\n${BODY}`);
  assert.equal(res.status, 302, res.raw.slice(0, 400));
  const cookies = res.raw.split('\r\n').filter((l) => /^set-cookie:/i.test(l));
  assert.ok(cookies.length >= 3, res.raw.slice(0, 400));
  const secure = cookies.map((c) => /;\s*Secure/i.test(c));
  assert.ok(secure.every((s) => s === secure[0]), cookies.join('\n'));
  return secure[0]!;
}

const CASES: [string[], boolean][] = [
  [['Forwarded: proto=https'], true],
  [['Forwarded: for=192.0.2.1;proto=https;host=hub.example'], true],
  [['Forwarded: Proto="HTTPS"'], true],
  [['Forwarded: for="[2001:db8::1]:443";proto=https, for=10.0.0.2;proto=http'], true],
  [['Forwarded: for=10.0.0.2;proto=http'], false],
  [['Forwarded: proto=gopher'], false],
  [['X-Forwarded-Proto: https', 'X-Forwarded-Proto: http'], true],
  [['X-Forwarded-Proto: http', 'X-Forwarded-Proto: https'], false],
  [['X-Forwarded-Proto:   HTTPS  '], true],
];

describe('Secure cookies from Forwarded and other X-Forwarded-Proto spellings', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub();
  });
  after(async () => t.stop());

  for (const [lines, secure] of CASES) {
    it(`${lines.join(' + ')}: ${secure ? '' : 'no '}Secure, straight from a trusted peer`, async () => {
      assert.equal(await secureAfterLogin(t.hubUrl, lines), secure);
    });
  }

  it("Forwarded: proto=https through the hub's proxy (which adds X-Forwarded-Proto: http): Secure", async () => {
    assert.equal(await secureAfterLogin(t.publicUrl, ['Forwarded: for=192.0.2.1;proto=https']), true);
  });
});

describe('Forwarded from a peer that is not a trusted proxy', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({ trusted_downstream_ips: ['192.0.2.10'] });
  });
  after(async () => t.stop());

  it('is not believed', async () => {
    assert.equal(await secureAfterLogin(t.hubUrl, ['Forwarded: proto=https']), false);
    assert.equal(await secureAfterLogin(t.hubUrl, ['X-Forwarded-Proto: https']), false);
  });
});

describe('forwardedProto', () => {
  it('reads the first element only, quoted or not, and nothing but http/https', () => {
    assert.equal(forwardedProto('proto=https'), 'https');
    assert.equal(forwardedProto(['for=a;proto=https', 'for=b;proto=http']), 'https');
    assert.equal(forwardedProto('for="x,proto=http";proto=https'), 'https');
    assert.equal(forwardedProto('for=a, proto=https'), undefined);
    assert.equal(forwardedProto('proto=javascript'), undefined);
    assert.equal(forwardedProto(''), undefined);
    assert.equal(forwardedProto(undefined), undefined);
  });
});
