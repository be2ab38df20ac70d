import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { assertCanListen, listenError } from '../../src/lib/listen-error.js';
import { ConfigError } from '../../src/lib/errors.js';

describe('listen errors name the option to change (issue 9)', () => {
  it('EADDRINUSE, EACCES and EADDRNOTAVAIL become ConfigErrors naming the address and the option; others pass through', () => {
    const spec = { what: 'The hub', host: '127.0.0.1', port: 8081, option: 'hub.port (or hub.ip)' };
    const inUse = listenError(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), spec);
    assert.ok(inUse instanceof ConfigError);
    assert.match(inUse.message, /^The hub cannot listen on 127\.0\.0\.1:8081: the address is already in use.*set hub\.port \(or hub\.ip\)/);
    assert.match((listenError(Object.assign(new Error('x'), { code: 'EACCES' }), spec) as Error).message, /permission denied.*Set hub\.port/);
    assert.match((listenError(Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' }), { ...spec, host: '::1' }) as Error).message, /\[::1\]:8081: no network interface.*Set hub\.port/);
    const other = new Error('other');
    assert.equal(listenError(other, spec), other);
  });

  it('assertCanListen refuses a port in use, naming the option, and accepts a free one', async () => {
    const squatter = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    const port = (squatter.address() as net.AddressInfo).port;
    try {
      await assert.rejects(assertCanListen({ what: "The proxy's REST API", host: '127.0.0.1', port, option: 'proxy.api_url' }), /REST API cannot listen on 127\.0\.0\.1:\d+: the address is already in use.*set proxy\.api_url/);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
    await assertCanListen({ what: 'The proxy', host: '127.0.0.1', port, option: 'port (--port)' });
  });
});
