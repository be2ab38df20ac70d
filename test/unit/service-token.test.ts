import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { serviceToken } from '../../src/services/service-token.js';

const log = pino({ level: 'silent' });
const linux = process.platform === 'linux';

test('api_token_file: a file whose size the kernel reports as 0 (/proc) is read with a bound, not whole', { skip: !linux }, () => {
  // stat says 0 bytes; the content is far more than a token file may hold
  assert.throws(() => serviceToken({ name: 'x', api_token_file: '/proc/self/maps' }, log), /api_token_file \/proc\/self\/maps is larger than 4096 bytes/);
});

test('api_token_file: a FIFO is refused at once (opening it does not wait for a writer)', { skip: !linux }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'svc-token-'));
  try {
    const fifo = path.join(dir, 'token');
    execFileSync('mkfifo', [fifo]);
    assert.throws(() => serviceToken({ name: 'x', api_token_file: fifo }, log), /is not a file/);
    const big = path.join(dir, 'big');
    writeFileSync(big, `${'a'.repeat(40)}\n${'b'.repeat(5000)}`);
    assert.throws(() => serviceToken({ name: 'x', api_token_file: big }, log), /larger than 4096 bytes/);
    const good = path.join(dir, 'good');
    writeFileSync(good, `${'t'.repeat(32)}\n`, { mode: 0o600 });
    assert.equal(serviceToken({ name: 'x', api_token_file: good }, log), 't'.repeat(32));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
