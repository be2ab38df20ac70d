/**
 * The identity-cache key of a token is kept on the connection that sent it
 * (src/api/common.ts `tokenKey`): a keep-alive client's next request with the
 * same Authorization header is not hashed again. These requests share one
 * connection, as the proxy's requests to the hub do: each token still gets
 * its own identity, a revoked token is refused at once, and a malformed
 * header after a good one is not taken for it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startTestHub, type TestHub } from '../helpers/hub.js';

describe('token keys kept per connection', () => {
  let t: TestHub;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  /** GET on the one kept-alive connection. */
  const get = (path: string, authorization?: string): Promise<{ status: number; body: Record<string, unknown> }> =>
    new Promise((resolve, reject) => {
      const req = http.get(`${t.hubUrl}/hub/api${path}`, { agent, headers: authorization ? { authorization } : {} }, (res) => {
        sockets.add(res.socket);
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      });
      req.on('error', reject);
    });

  before(async () => {
    t = await startTestHub();
  });
  after(async () => {
    agent.destroy();
    await t?.stop();
  });

  it('each token on one connection is its own requester, whatever came before', async () => {
    const alice = await t.tokenFor('conn-alice');
    const bob = await t.tokenFor('conn-bob');
    for (let i = 0; i < 3; i++) {
      assert.equal((await get('/user', `token ${alice}`)).body['name'], 'conn-alice');
      assert.equal((await get('/user', `token ${alice}`)).body['name'], 'conn-alice');
      assert.equal((await get('/user', `Bearer ${bob}`)).body['name'], 'conn-bob');
      assert.equal((await get('/users/conn-alice', `token ${bob}`)).status, 404, "bob cannot read alice's model");
      assert.equal((await get('/users/conn-alice', `token ${alice}`)).status, 200);
    }
    // a header that is no token, after a good one on the same connection: anonymous
    assert.equal((await get('/user', `token ${alice} extra`)).status, 403);
    assert.equal((await get('/user', 'token')).status, 403);
    assert.equal((await get('/user')).status, 403);
    assert.equal((await get('/user', `token ${alice}`)).body['name'], 'conn-alice');
    assert.equal(sockets.size, 1, 'all on one connection');
  });

  it('a token revoked is refused at the next request on the same connection', async () => {
    const carol = await t.tokenFor('conn-carol');
    assert.equal((await get('/users/conn-carol', `token ${carol}`)).status, 200);
    const tokens = (await get('/users/conn-carol/tokens', `token ${carol}`)).body['api_tokens'] as Array<{ id: string }>;
    const admin = await t.tokenFor('conn-admin', { admin: true });
    for (const tok of tokens) assert.equal((await t.api('DELETE', `/users/conn-carol/tokens/${tok.id}`, { token: admin })).status, 204);
    assert.equal((await get('/users/conn-carol', `token ${carol}`)).status, 403);
  });
});
