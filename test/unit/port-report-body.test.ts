/**
 * Issue 11, "Where the server is": what a port report's body may hold
 * (src/api/port-report-body.ts): only `port`, a JSON integer from 1 to 65535.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { reportedPortOf } from '../../src/api/port-report-body.js';
import { HubError } from '../../src/lib/errors.js';

function refusal(body: unknown, server = ''): string {
  try {
    reportedPortOf(body, server);
  } catch (err) {
    assert.ok(err instanceof HubError);
    assert.equal(err.status, 400);
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(body)}`);
}

describe('reportedPortOf', () => {
  it('takes a JSON integer port from 1 to 65535', () => {
    for (const port of [1, 80, 8888, 65535]) assert.equal(reportedPortOf({ port }, ''), port);
  });

  it('refuses other values of port, naming what it got', () => {
    const cases: [unknown, string][] = [
      [0, 'got 0'],
      [65536, 'got 65536'],
      [-1, 'got -1'],
      [8888.5, 'got 8888.5'],
      ['8888', 'got the string "8888"'],
      [' 80', 'got the string " 80"'],
      [true, 'got true'],
      [null, 'got null'],
      [{ n: 1 }, 'got {"n":1}'],
      [Number.MAX_SAFE_INTEGER + 2, 'got 9007199254740992'],
      ['x'.repeat(500), '…" (500 characters)'],
    ];
    for (const [port, got] of cases) {
      const message = refusal({ port });
      assert.ok(message.startsWith('port report: "port" must be a JSON integer from 1 to 65535, got '), message);
      assert.ok(message.includes(got) || message.endsWith(got), `${JSON.stringify(port)}: ${message}`);
      assert.ok(message.length < 200, message);
    }
    assert.match(refusal({}), /field "port" is missing/);
  });

  it('refuses a body that is not an object', () => {
    for (const body of [undefined, null, 80, '{"port": 80}', [{ port: 80 }]]) assert.match(refusal(body), /must be a JSON object/);
  });

  it('names every unknown field (up to five, then a count), escaped', () => {
    assert.match(refusal({ port: 80, ip: '0.0.0.0' }), /unknown field "ip"; only "port" is accepted$/);
    assert.match(refusal({ port: 80, ip: 1, url: 2 }), /unknown fields "ip", "url"; only "port" is accepted$/);
    const many = Object.fromEntries(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => [k, 1]));
    assert.match(refusal({ port: 80, ...many }), /"a", "b", "c", "d", "e" and 2 more;/);
    assert.match(refusal({ port: 80, 'x\ny': 1 }), /unknown field "x\\u\{a\}y"/);
    assert.match(refusal({ port: 80, __proto__x: 1 }), /"__proto__x"/);
  });

  it('accepts server_name only when it is the token\'s own server (batchspawner-singleuser before 1.3 sent it)', () => {
    assert.equal(reportedPortOf({ port: 80, server_name: '' }, ''), 80);
    assert.equal(reportedPortOf({ server_name: 'gpu', port: 81 }, 'gpu'), 81);
    assert.match(refusal({ port: 80, server_name: 'gpu' }, ''), /"server_name" "gpu" is not the server this token belongs to/);
    assert.match(refusal({ port: 80, server_name: '' }, 'gpu'), /"server_name" "" is not the server/);
    assert.match(refusal({ port: 80, server_name: 1 }, ''), /"server_name" of the wrong type/);
  });
});
