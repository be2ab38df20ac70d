import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/lib/log.js';
import { LazyRequestLogger, lazyRequestLoggers } from '../../src/hub/request-logger.js';

function captured(level: string): { lines: Array<Record<string, unknown>>; log: ReturnType<typeof createLogger>; children: () => number } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger(level, { format: 'json', destination });
  let made = 0;
  const child = log.child;
  log.child = function (this: typeof log, b: Record<string, unknown>, o?: Record<string, unknown>) {
    made++;
    return child.call(this, b, o);
  } as typeof log.child;
  return { lines, log, children: () => made };
}

describe('request loggers made on first use', () => {
  it('makes no child for a request that logs nothing, or only below the level', () => {
    const { log, lines, children } = captured('info');
    const req = lazyRequestLoggers(log, { reqId: 'req-1' }, {});
    assert.equal(children(), 0);
    req.debug('not written');
    req.trace({ a: 1 }, 'not written either');
    assert.equal(children(), 0);
    assert.equal(lines.length, 0);
    assert.equal(req.level, 'info');
  });

  it('writes with the request id and the cleaned fields, as the child would', () => {
    const { log, lines, children } = captured('info');
    const req = lazyRequestLoggers(log, { reqId: 'req-2' }, {});
    req.info({ status: 403, token: 'secret-value' }, 'request refused');
    req.warn('second line\nforged');
    assert.equal(children(), 1, 'one child for the request, made once');
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!['reqId'], 'req-2');
    assert.equal(lines[0]!['status'], 403);
    assert.notEqual(lines[0]!['token'], 'secret-value');
    assert.equal(lines[0]!['msg'], 'request refused');
    assert.equal(lines[1]!['reqId'], 'req-2');
    assert.doesNotMatch(String(lines[1]!['msg']), /\n/);
  });

  it('follows a level given for the route, and a child of it keeps the bindings', () => {
    const { log, lines } = captured('info');
    const req = new LazyRequestLogger(log, { reqId: 'req-3' }, { level: 'debug' });
    assert.equal(req.level, 'debug');
    req.debug('route at debug');
    const sub = req.child({ part: 'x' });
    sub.info('from the child');
    assert.deepEqual(
      lines.map((l) => [l['reqId'], l['msg']]),
      [
        ['req-3', 'route at debug'],
        ['req-3', 'from the child'],
      ],
    );
    assert.equal(lines[1]!['part'], 'x');
  });

  it("sees the hub's level as it is when the line is written (a live reload may change it)", () => {
    const { log, lines } = captured('info');
    const req = lazyRequestLoggers(log, { reqId: 'req-4' }, {});
    log.level = 'debug';
    req.debug('now written');
    assert.equal(lines.length, 1);
  });
});
