import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isServiceRoute, servicePrefix, serviceTarget } from '../../src/services/service-routes.js';
import { managedServiceEnv } from '../../src/services/managed-services.js';

describe('service routes and environment', () => {
  it('the prefix is <base_url>services/<name>/', () => {
    assert.equal(servicePrefix({ base: '/' }, 'culler'), '/services/culler/');
    assert.equal(servicePrefix({ base: '/jh/' }, 'a.b_c-d'), '/jh/services/a.b_c-d/');
  });

  it('the target is the url origin; other schemes are not routed', () => {
    assert.equal(serviceTarget('http://127.0.0.1:10101/some/path?q=1'), 'http://127.0.0.1:10101');
    assert.equal(serviceTarget('https://svc.internal'), 'https://svc.internal');
    assert.equal(serviceTarget('ftp://x'), undefined);
    assert.equal(serviceTarget('not a url'), undefined);
    assert.ok(isServiceRoute({ service: 'x' }));
    assert.ok(!isServiceRoute({ jupyterhub: true, user: 'x' }));
  });

  it("a managed service's environment: JupyterHub's names win over environment:, no secret of the hub", () => {
    const saved = process.env['GANYMEDE_CRYPT_KEY'];
    process.env['GANYMEDE_CRYPT_KEY'] = 'secret-of-the-hub';
    try {
      const urls = { base: '/jh/', hub: '/jh/hub/', internal: 'http://127.0.0.1:8081', api: 'http://127.0.0.1:8081/jh/hub/api' };
      const env = managedServiceEnv({ urls }, { name: 's', url: 'http://127.0.0.1:9000', environment: { A: '1', JUPYTERHUB_SERVICE_NAME: 'forged' } }, 'tok-0123456789abcdef');
      assert.equal(env['JUPYTERHUB_SERVICE_NAME'], 's');
      assert.equal(env['JUPYTERHUB_API_TOKEN'], 'tok-0123456789abcdef');
      assert.equal(env['JUPYTERHUB_API_URL'], 'http://127.0.0.1:8081/jh/hub/api');
      assert.equal(env['JUPYTERHUB_BASE_URL'], '/jh/');
      assert.equal(env['JUPYTERHUB_SERVICE_URL'], 'http://127.0.0.1:9000');
      assert.equal(env['JUPYTERHUB_SERVICE_PREFIX'], '/jh/services/s/');
      assert.equal(env['A'], '1');
      assert.equal(env['GANYMEDE_CRYPT_KEY'], undefined);
      const bare = managedServiceEnv({ urls }, { name: 's', environment: {} }, 'tok-0123456789abcdef');
      assert.equal(bare['JUPYTERHUB_SERVICE_URL'], undefined);
      assert.equal(bare['JUPYTERHUB_SERVICE_PREFIX'], undefined);
    } finally {
      if (saved === undefined) delete process.env['GANYMEDE_CRYPT_KEY'];
      else process.env['GANYMEDE_CRYPT_KEY'] = saved;
    }
  });
});
