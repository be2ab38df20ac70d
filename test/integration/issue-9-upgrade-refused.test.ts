/**
 * Issue 9, item 1.7: a websocket upgrade the hub refuses (it has no websocket
 * endpoint there, so it answers a plain HTTP answer) must not leave a raw
 * tunnel through the proxy: a request the client writes after it on the same
 * socket never reaches the hub.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/** Writes `first`, then `second` once an answer began; resolves with all the bytes until the proxy closes (or 2 s). */
function exchange(port: number, first: string, second: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(done, 2000);
    socket.on('data', (c: Buffer) => {
      if (text === '') socket.write(second, 'latin1');
      text += c.toString('latin1');
    });
    socket.on('end', () => {
      closed = true;
      done();
    });
    socket.on('error', (err) => (text === '' ? reject(err) : done()));
    socket.write(first, 'latin1');
  });
}

describe('issue 9: an upgrade the hub refuses leaves no tunnel', () => {
  let t: TestHub;
  let admin: string;
  before(async () => {
    t = await startTestHub();
    admin = await t.tokenFor('admin', { admin: true });
  });
  after(async () => t.stop());

  for (const when of ['after the answer', 'pipelined with the upgrade']) {
    it(`a request written ${when} never reaches the hub`, async () => {
      const port = Number(new URL(t.publicUrl).port);
      const upgrade =
        'GET /hub/api/users HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
      const name = when === 'after the answer' ? 'smuggled-after' : 'smuggled-pipelined';
      const smuggled = `POST /hub/api/users/${name} HTTP/1.1\r\nHost: h\r\nAuthorization: token ${admin}\r\nX-Forwarded-For: 6.6.6.6\r\nContent-Length: 0\r\n\r\n`;
      const { text, closed } =
        when === 'after the answer' ? await exchange(port, upgrade, smuggled) : await exchange(port, upgrade + smuggled, '');
      assert.match(text, /^HTTP\/1\.1 (?!101)\d{3} /, text.slice(0, 200));
      assert.equal((text.match(/^HTTP\/1\.1 /gm) ?? []).length, 1, 'one answer only');
      assert.ok(closed, 'the proxy closed the client socket');
      const res = await t.api('GET', `/users/${name}`, { token: admin });
      assert.equal(res.status, 404, `the hub never saw POST /users/${name}`);
    });
  }
});
