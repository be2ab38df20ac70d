import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { clientProtocol } from '../../src/hub/cookies.js';

/**
 * The browser's protocol is the first X-Forwarded-Proto value, and only when
 * Fastify trusts the peer (its trustProxy decides, whatever it is set to).
 */
describe('clientProtocol', () => {
  async function protocolOf(trustProxy: boolean | string, header: string | undefined): Promise<string> {
    const app = Fastify({ trustProxy });
    app.get('/', async (req) => clientProtocol(req));
    try {
      const res = await app.inject({ method: 'GET', url: '/', remoteAddress: '127.0.0.1', headers: header === undefined ? {} : { 'x-forwarded-proto': header } });
      return res.body;
    } finally {
      await app.close();
    }
  }

  it('a trusted peer: the first value of the list, case-insensitive', async () => {
    assert.equal(await protocolOf('127.0.0.1', 'https,http'), 'https');
    assert.equal(await protocolOf('127.0.0.1', ' HTTPS , http'), 'https');
    assert.equal(await protocolOf('127.0.0.1', 'http,https'), 'http');
    assert.equal(await protocolOf(true, 'https, http, http'), 'https');
  });

  it('an untrusted peer: the header is ignored', async () => {
    assert.equal(await protocolOf(false, 'https'), 'http');
    assert.equal(await protocolOf('10.1.2.3', 'https,http'), 'http');
  });

  it('no header, or an empty first value: the connection decides', async () => {
    assert.equal(await protocolOf('127.0.0.1', undefined), 'http');
    assert.equal(await protocolOf('127.0.0.1', ''), 'http');
  });
});
