import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { cleanLogString, LOG_STRING_MAX, sanitizeLogFields } from '../../src/lib/log-sanitize.js';
import { createLogger } from '../../src/lib/log.js';

/** A logger writing into an array of lines. */
function captured(format: 'json' | 'pretty' = 'json'): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, log: createLogger('debug', { format, destination }) };
}

const HOSTILE = `evil\n{"level":50,"msg":"forged"}\r\u001b[2J\u001b]0;title\u0007\u0000\u009b\u2028\u202e` + 'x'.repeat(1_000_000);

describe('log sanitizing (issue 9, 1.10)', () => {
  it('clips long strings with a marker and escapes every control character', () => {
    const s = cleanLogString(HOSTILE);
    assert.ok(s.length < LOG_STRING_MAX + 200, `clipped: ${s.length}`);
    assert.match(s, /…\[clipped \d+ chars\]$/);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(s, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202e]/);
    assert.ok(s.startsWith('evil\\n{"level":50,"msg":"forged"}\\r\\x1b[2J\\x1b]0;title\\x07\\x00\\x9b\\u2028\\u202e'), s.slice(0, 80));
    assert.equal(cleanLogString('alice'), 'alice');
  });

  it('redacts secret keys at any depth and secrets in URL queries', () => {
    const out = sanitizeLogFields({
      token: 'abc',
      user: { name: 'bob', api_token: 'x', authState: { a: 1 } },
      headers: { authorization: 'token x', cookie: 'c=1', 'set-cookie': ['a'] },
      env: { JUPYTERHUB_API_TOKEN: 't', PATH: '/bin' },
      url: '/user/bob/?token=s3cret&x=1',
      password: 'p',
      list: [{ proxy_token: 'y' }],
    });
    const text = JSON.stringify(out);
    for (const secret of ['abc', '"x"', 'token x', 'c=1', '"t"', 's3cret', '"p"', '"y"', '{"a":1}']) assert.ok(!text.includes(secret), `${secret} in ${text}`);
    assert.equal((out['env'] as Record<string, string>)['PATH'], '/bin');
    assert.equal(out['url'], '/user/bob/?token=[redacted]&x=1');
  });

  it('cleans errors, keys, big arrays and deep nesting', () => {
    const err = new Error(`bad name ${HOSTILE.slice(0, 40)}`);
    const out = sanitizeLogFields({ err, ['k\u001b']: 1, many: Array.from({ length: 500 }, (_, i) => i), deep: JSON.parse('{"a":'.repeat(50) + '1' + '}'.repeat(50)) as unknown });
    const e = out['err'] as Record<string, string>;
    assert.ok(!e['message']!.includes('\n') && !e['message']!.includes('\u001b'));
    assert.ok(e['stack']!.split('\n')[0]!.includes('evil\\n{'), 'the message line of the stack is escaped');
    assert.ok('k\\x1b' in out);
    assert.equal((out['many'] as unknown[]).length, 101);
    assert.match(JSON.stringify(out['deep']), /nested too deep/);
  });

  it('applies to every line a logger writes: fields, child bindings, messages', () => {
    const { lines, log } = captured();
    log.child({ user: HOSTILE }).warn({ username: HOSTILE, password: 'hunter2', headers: { authorization: 'token zzz' } }, `failed login for ${HOSTILE}`);
    log.error(new Error(HOSTILE), 'boom');
    log.error(new Error(HOSTILE));
    log.child({ a: 1 }).child({ b: HOSTILE }).info({ err: new TypeError(HOSTILE) });
    assert.equal(lines.length, 4, 'one line per call: no forged line');
    for (const line of lines) {
      assert.ok(line.length < 20_000, `line of ${line.length} chars`);
      assert.ok(!line.includes('hunter2') && !line.includes('zzz'));
      const rec = JSON.parse(line) as Record<string, unknown>;
      for (const v of [rec['user'], rec['username'], rec['msg']]) if (typeof v === 'string') assert.ok(!/[\u0000-\u001f]/.test(v), v.slice(0, 60)); // eslint-disable-line no-control-regex
    }
    const first = JSON.parse(lines[0]!) as Record<string, string>;
    assert.match(first['username']!, /^evil\\n.*…\[clipped \d+ chars\]$/);
    assert.match(first['msg']!, /^failed login for evil\\n/);
    assert.equal(first['password'], '[redacted]');
    const third = JSON.parse(lines[2]!) as { msg: string; err: { type: string; message: string } };
    assert.equal(third.err.type, 'Error');
    assert.match(third.msg, /^evil\\n.*clipped/);
    const fourth = JSON.parse(lines[3]!) as { msg: string; b: string; err: { type: string } };
    assert.equal(fourth.err.type, 'TypeError');
    assert.match(fourth.b, /^evil\\n.*clipped/);
  });

  it('writes pretty lines for people: time, level, message, fields, without control characters', () => {
    const { lines, log } = captured('pretty');
    log.info({ user: 'alice\u001b[31m', n: 3 }, 'hub ready');
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: hub ready \{"user":"alice\\x1b\[31m","n":3\}$/);
  });

  it('log_format auto: pretty on a terminal, JSON lines otherwise', () => {
    for (const tty of [true, false]) {
      const lines: string[] = [];
      const destination = Object.assign(
        new Writable({
          write(chunk: Buffer, _enc, done) {
            lines.push(chunk.toString());
            done();
          },
        }),
        { isTTY: tty },
      );
      createLogger('info', { format: 'auto', destination }).info({ n: 1 }, 'hello');
      // eslint-disable-next-line no-control-regex
      const text = lines.join('').replace(/\u001b\[[0-9;]*m/g, '');
      if (tty) assert.match(text, /INFO: hello.*"n":1/);
      else assert.equal((JSON.parse(text) as { msg: string }).msg, 'hello');
    }
  });
});
