/**
 * What runs on every request is kept to what every request needs: the
 * hub's headers (onRequest) and the request-duration metric (onResponse).
 * Reads run no cookie, body or identity hook (each cost API reads a share of
 * their throughput); routes that can change something also drop the cached
 * identities after a success, so a change of roles applies at once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestHub, type TestHub } from '../helpers/hub.js';

/** The hook lines (`• (onRequest) ["hubHeaders()"]`) of a printRoutes listing. */
function hookLines(listing: string): Array<{ hook: string; fns: string[] }> {
  return [...listing.matchAll(/• \((\w+)\) (\[.*\])/g)].map((m) => ({ hook: m[1]!, fns: JSON.parse(m[2]!) as string[] }));
}

describe('per-request hooks', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub();
  });
  after(async () => {
    await t?.stop();
  });

  it('GET routes run only the headers and duration hooks (and a multi-method route its identity drop)', () => {
    const lines = hookLines(t.app.printRoutes({ includeHooks: true, commonPrefix: false, method: 'GET' }));
    assert.ok(lines.length > 20, 'routes listed');
    for (const { hook, fns } of lines) {
      assert.ok(hook === 'onRequest' || hook === 'onResponse', `no ${hook} hook on a read: ${fns.join(', ')}`);
      if (hook === 'onRequest') assert.deepEqual(fns, ['hubHeaders()']);
      else assert.ok(fns[0] === 'recordDuration()' && fns.slice(1).every((f) => f === 'dropIdentities()'), fns.join(', '));
    }
    const api = t.app.printRoutes({ includeHooks: true, commonPrefix: false, method: 'GET' });
    const users = api.slice(api.indexOf('/:name (GET)'));
    assert.deepEqual(hookLines(users.split('\n').slice(0, 3).join('\n')), [
      { hook: 'onRequest', fns: ['hubHeaders()'] },
      { hook: 'onResponse', fns: ['recordDuration()'] },
    ]);
  });

  it('routes that can change something drop cached identities after a success', async () => {
    for (const method of ['POST', 'PATCH', 'DELETE', 'PUT']) {
      for (const { hook, fns } of hookLines(t.app.printRoutes({ includeHooks: true, commonPrefix: false, method }))) {
        if (hook === 'onResponse') assert.ok(fns.includes('dropIdentities()'), `${method}: ${fns.join(', ')}`);
      }
    }
    // and it takes effect: a token whose user loses admin loses admin's reach at the next request
    const admin = await t.tokenFor('hook-admin', { admin: true });
    const other = await t.tokenFor('hook-other', { admin: true });
    assert.equal((await t.api('GET', '/users/hook-admin', { token: other })).status, 200);
    assert.equal((await t.api('GET', '/users/hook-other', { token: admin })).status, 200);
    assert.equal((await t.api('PATCH', '/users/hook-admin', { token: other, body: { admin: false } })).status, 200);
    assert.equal((await t.api('GET', '/users/hook-other', { token: admin })).status, 404);
  });
});
