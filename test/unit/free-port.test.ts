/**
 * src/lib/free-port.ts: the ports handed to servers the hub starts. A spawn
 * storm once handed two servers the same port (bind to 0, close, and the
 * kernel gave the port again); these check the class: no port is handed out
 * twice while held, however the picks interleave or whatever the kernel or
 * the random pick offers, and ports stay below the ephemeral range.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ephemeralRange, freePort, HOLD_MS, releaseHeldPorts } from '../../src/lib/free-port.js';

afterEach(() => releaseHeldPorts());

describe('freePort', () => {
  it('300 picks at once are 300 distinct ports, all below the ephemeral range and bindable', async () => {
    const [low] = ephemeralRange();
    const ports = await Promise.all(Array.from({ length: 300 }, () => freePort('127.0.0.1')));
    assert.equal(new Set(ports).size, 300);
    if (low > 11_000) for (const p of ports) assert.ok(p >= 10_000 && p < low, `${p} is below ${low}`);
    // each can be bound by the process it is handed to
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(ports[0], '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('never hands out a held port again, even when the random pick keeps drawing it; after HOLD_MS it may', async () => {
    let t = 1_000_000;
    const now = () => t;
    const same = () => 0.5; // always the same candidate
    const first = await freePort('127.0.0.1', { random: same, now });
    const second = await freePort('127.0.0.1', { random: same, now });
    assert.notEqual(second, first, 'the held port is skipped (the kernel pick is used instead)');
    t += HOLD_MS;
    assert.equal(await freePort('127.0.0.1', { random: same, now }), first, 'free again once the hold expired');
  });

  it('skips a candidate that is in use', async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const taken = (busy.address() as net.AddressInfo).port;
    try {
      // a range whose only candidate is the busy port: the kernel pick is used instead
      const low = taken + 1;
      const port = await freePort('127.0.0.1', { ephemeral: [low, low + 100], random: () => (taken - 10_000 + 0.5) / (low - 10_000) });
      assert.notEqual(port, taken);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });

  it('with no room below the ephemeral range, takes the kernel pick, still never a held port', async () => {
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort('127.0.0.1', { ephemeral: [1024, 65535] })));
    assert.equal(new Set(ports).size, 50);
  });

  it('reads the ephemeral range from its file, or falls back to the Linux default', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ports-'));
    try {
      writeFileSync(path.join(dir, 'range'), '40000\t50000\n');
      assert.deepEqual(ephemeralRange(path.join(dir, 'range')), [40000, 50000]);
      writeFileSync(path.join(dir, 'bad'), 'nonsense\n');
      assert.deepEqual(ephemeralRange(path.join(dir, 'bad')), [32768, 60999]);
      assert.deepEqual(ephemeralRange(path.join(dir, 'missing')), [32768, 60999]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
