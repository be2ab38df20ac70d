import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityCache } from '../../src/hub/identity-cache.js';
import type { Requester } from '../../src/hub/service-identity.js';

const withToken = (expires_at: string | null) => ({ kind: 'user', token: { expires_at }, scopes: new Set<string>() }) as unknown as Requester;

describe('IdentityCache', () => {
  it('keeps an identity for its time to live, and forgets all on clear', () => {
    const cache = new IdentityCache(60_000);
    const who = withToken(null);
    cache.set('k', who);
    assert.equal(cache.get('k'), who);
    cache.clear();
    assert.equal(cache.get('k'), undefined);
  });

  it("never keeps an identity past its token's expiry", () => {
    const cache = new IdentityCache(60_000);
    cache.set('gone', withToken(new Date(Date.now() - 1).toISOString()));
    assert.equal(cache.get('gone'), undefined);
    cache.set('bad', withToken('not a date'));
    assert.equal(cache.get('bad'), undefined);
    const later = withToken(new Date(Date.now() + 3_600_000).toISOString());
    cache.set('later', later);
    assert.equal(cache.get('later'), later);
  });

  it('keeps nothing with a time to live of 0', () => {
    const cache = new IdentityCache(0);
    cache.set('k', withToken(null));
    assert.equal(cache.get('k'), undefined);
  });
});
