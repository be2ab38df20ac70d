/**
 * A request that reaches the hub while it shuts down (on a keep-alive
 * connection still busy with an earlier request) gets a 503 in the hub's
 * error shape with its security headers, not Fastify's own
 * `{"error", "message", "statusCode"}` JSON without them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestHub } from '../helpers/hub.js';

describe('answers while the hub shuts down', () => {
  it('a request on a busy keep-alive connection gets a 503 {status, message} with security headers', async () => {
    const t = await startTestHub();
    let closing: Promise<unknown> | undefined;
    try {
      const socket = net.connect(t.hubPort, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      const body = '{"usernames": ["closing-test"]}';
      // the first request is routed, its body not yet sent: the connection is busy
      socket.write(`POST /hub/api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
      await new Promise((r) => setTimeout(r, 200));
      closing = t.app.close();
      await new Promise((r) => setTimeout(r, 100));
      socket.write(`${body.slice(5)}GET /hub/api/info HTTP/1.1\r\nHost: x\r\n\r\n`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      socket.destroy();
      const second = received.split(/(?=HTTP\/1\.1 \d{3})/).find((a) => a.startsWith('HTTP/1.1 503')) ?? '';
      assert.match(second, /^HTTP\/1\.1 503/, received.slice(0, 800));
      assert.match(second, /x-content-type-options: nosniff/i, second);
      const json = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      assert.equal(json['status'], 503);
      assert.equal(typeof json['message'], 'string');
    } finally {
      await closing;
      await t.stop().catch(() => undefined);
    }
  });
});
