import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROXY_USAGE, parseProxyArgs, proxyOptionsFromArgs } from '../../src/proxy/builtin/cli.js';
import { clientErrorStatus, serverLimitOptions } from '../../src/proxy/builtin/limits.js';
import { silentLogger } from './helpers.js';

describe('CLI flags for host routing, limits, timeouts and TLS', () => {
  it('parses them into proxy options', () => {
    const args = parseProxyArgs([
      '--host-routing',
      '--max-header-size=4096',
      '--max-connections-per-client',
      '20',
      '--request-timeout',
      '60000',
      '--ssl-cert',
      '/etc/tls/tls.crt',
      '--ssl-key=/etc/tls/tls.key',
    ]);
    assert.deepEqual(args.ignored, []);
    const opts = proxyOptionsFromArgs(args, silentLogger(), {});
    assert.equal(opts.hostRouting, true);
    assert.equal(opts.maxHeaderSize, 4096);
    assert.equal(opts.maxConnectionsPerClient, 20);
    assert.equal(opts.requestTimeoutMs, 60000);
    assert.equal(opts.sslCert, '/etc/tls/tls.crt');
    assert.equal(opts.sslKey, '/etc/tls/tls.key');
  });

  it('defaults them to off', () => {
    const args = parseProxyArgs([]);
    assert.equal(args.hostRouting, false);
    assert.equal(args.maxHeaderSize, undefined);
    assert.equal(args.maxConnectionsPerClient, undefined);
    assert.equal(args.sslCert, undefined);
    assert.throws(() => parseProxyArgs(['--max-header-size', 'big']), /--max-header-size/);
  });

  it('documents them in the usage text', () => {
    for (const flag of ['--host-routing', '--max-header-size', '--max-connections-per-client', '--request-timeout', '--ssl-cert', '--ssl-key']) {
      assert.ok(PROXY_USAGE.includes(flag), flag);
    }
  });

  it('maps limits to node server options', () => {
    assert.deepEqual(serverLimitOptions({}), { maxHeaderSize: 16384, keepAliveTimeout: 5000 });
    const o = serverLimitOptions({ requestTimeoutMs: 1000, maxHeaderSize: 100 });
    assert.equal(o.requestTimeout, 1000);
    assert.equal(o.headersTimeout, 1000);
    assert.equal(o.connectionsCheckingInterval, 250);
    assert.equal(clientErrorStatus('HPE_HEADER_OVERFLOW'), 431);
    assert.equal(clientErrorStatus('ERR_HTTP_REQUEST_TIMEOUT'), 408);
    assert.equal(clientErrorStatus('HPE_INVALID_METHOD'), 400);
  });
});
