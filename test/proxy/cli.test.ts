import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProxyArgs, proxyOptionsFromArgs } from '../../src/proxy/builtin/cli.js';
import { silentLogger } from './helpers.js';

describe('proxy command line', () => {
  it('uses CHP defaults', () => {
    const a = parseProxyArgs([]);
    assert.equal(a.ip, '');
    assert.equal(a.port, 8000);
    assert.equal(a.apiIp, 'localhost');
    assert.equal(a.apiPort, 8001);
    assert.equal(a.logLevel, 'info');
    assert.equal(a.xForward, true);
    assert.equal(a.defaultTarget, undefined);
  });

  it('accepts --flag value and --flag=value', () => {
    const a = parseProxyArgs([
      '--ip=',
      '--port',
      '9000',
      '--api-ip=127.0.0.1',
      '--default-target=http://hub:8081',
      '--error-target',
      'http://hub:8081/hub/error',
      '--log-level=DEBUG',
      '--pid-file',
      '/tmp/p.pid',
      '--state-file=/tmp/s.json',
      '--timeout=3000',
      '--keep-alive-timeout',
      '7000',
      '--no-x-forward',
      '--insecure',
    ]);
    assert.equal(a.ip, '');
    assert.equal(a.port, 9000);
    assert.equal(a.apiPort, 9001);
    assert.equal(a.apiIp, '127.0.0.1');
    assert.equal(a.defaultTarget, 'http://hub:8081');
    assert.equal(a.errorTarget, 'http://hub:8081/hub/error');
    assert.equal(a.logLevel, 'debug');
    assert.equal(a.pidFile, '/tmp/p.pid');
    assert.equal(a.stateFile, '/tmp/s.json');
    assert.equal(a.timeoutMs, 3000);
    assert.equal(a.keepAliveTimeoutMs, 7000);
    assert.equal(a.xForward, false);
    assert.equal(a.insecure, true);
    assert.deepEqual(a.ignored, []);
  });

  it('accepts and reports unsupported CHP flags (Z2JH and JupyterHub pass some)', () => {
    const a = parseProxyArgs(['--host-routing', '--ssl-key', 'k.pem', '--ssl-cert=c.pem', '--no-prepend-path', '--api-port=8001', '--ip=*']);
    assert.deepEqual(a.ignored.sort(), ['no-prepend-path']);
    assert.equal(a.hostRouting, true);
    assert.equal(a.sslKey, 'k.pem');
    assert.equal(a.sslCert, 'c.pem');
    assert.equal(a.apiPort, 8001);
    assert.equal(a.ip, '', "'*' means all interfaces");
  });

  it("takes CHP's TLS, redirect, metrics, timeout and custom-header flags", () => {
    const a = parseProxyArgs([
      '--ssl-ca', 'ca.pem',
      '--redirect-port', '8000',
      '--redirect-to=443',
      '--metrics-port', '8002',
      '--metrics-ip', '127.0.0.1',
      '--proxy-timeout', '5000',
      '--custom-header', 'X-Site: north',
      '--custom-header=X-Empty:',
    ]);
    assert.equal(a.sslCa, 'ca.pem');
    assert.equal(a.redirectPort, 8000);
    assert.equal(a.redirectTo, 443);
    assert.equal(a.metricsPort, 8002);
    assert.equal(a.metricsIp, '127.0.0.1');
    assert.equal(a.timeoutMs, 5000);
    assert.deepEqual(a.customHeaders, { 'X-Site': 'north', 'X-Empty': '' });
    assert.deepEqual(a.ignored, []);
    assert.equal(parseProxyArgs(['--timeout', '100', '--proxy-timeout', '5000']).timeoutMs, 100);
    assert.throws(() => parseProxyArgs(['--custom-header', 'no colon']), /--custom-header expects 'name: value', got 'no colon'/);
    assert.throws(() => parseProxyArgs(['--custom-header', 'bad name: 1']), /--custom-header/);
  });

  it('rejects unknown flags and bad values', () => {
    assert.throws(() => parseProxyArgs(['--bogus']));
    assert.throws(() => parseProxyArgs(['--port', 'eighty']), /--port/);
    assert.throws(() => parseProxyArgs(['--log-level', 'loud']), /--log-level/);
  });

  it('reads the token from CONFIGPROXY_AUTH_TOKEN', () => {
    const args = parseProxyArgs(['--port', '0']);
    assert.equal(args.apiPort, 0);
    const opts = proxyOptionsFromArgs(args, silentLogger(), { CONFIGPROXY_AUTH_TOKEN: 'abc' });
    assert.equal(opts.authToken, 'abc');
    assert.equal(proxyOptionsFromArgs(args, silentLogger(), {}).authToken, undefined);
  });

  it('takes --state-db and --state-name, and refuses --state-db with --state-file', () => {
    const a = parseProxyArgs(['--state-db', 'postgres://u:secret@127.0.0.1:5432/db', '--state-name=north']);
    assert.equal(a.stateDb, 'postgres://u:secret@127.0.0.1:5432/db');
    assert.equal(a.stateName, 'north');
    assert.equal(a.stateFile, undefined);
    const opts = proxyOptionsFromArgs(a, silentLogger(), {});
    assert.equal(opts.routeStore?.description, 'postgres://u:***@127.0.0.1:5432/db');
    assert.equal(proxyOptionsFromArgs(parseProxyArgs([]), silentLogger(), {}).routeStore, undefined);
    assert.throws(() => parseProxyArgs(['--state-file', '/tmp/s.json', '--state-db', 'sqlite:////tmp/s.sqlite']), /--state-file and --state-db cannot be used together/);
    assert.throws(() => parseProxyArgs(['--state-name', 'north']), /--state-name needs --state-db/);
  });
});
