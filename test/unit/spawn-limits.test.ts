import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { tooManySpawns, userServerLimit } from '../../src/hub/spawn-limits.js';

describe('server limits per user and group', () => {
  const config = validateConfig({ server_limit_per_user: 1, server_limit_per_group: { big: 4, small: 2, free: 0 } });
  it('a user in no listed group gets server_limit_per_user', () => {
    assert.deepEqual(userServerLimit(config, []), { limit: 1 });
    assert.deepEqual(userServerLimit(config, ['other']), { limit: 1 });
  });
  it('a user in several listed groups gets the largest; 0 (no limit) is the largest', () => {
    assert.deepEqual(userServerLimit(config, ['small']), { limit: 2, group: 'small' });
    assert.deepEqual(userServerLimit(config, ['small', 'big']), { limit: 4, group: 'big' });
    assert.deepEqual(userServerLimit(config, ['big', 'free', 'small']), { limit: 0, group: 'free' });
  });
  it("the queue-full refusal is JupyterHub's 429 with Retry-After, longer when the queue drains slowly", () => {
    for (const estimate of [undefined, 5, 200, 10_000]) {
      const err = tooManySpawns(estimate);
      const retry = Number(err.headers['Retry-After']);
      const low = Math.min(300, Math.max(30, estimate ?? 0));
      assert.equal(err.status, 429);
      assert.ok(retry >= low && retry <= 2 * low, `${estimate}: ${retry}`);
      assert.equal(err.message, `Too many users trying to log in right now. Try again in ${Math.ceil(retry / 10) * 10} seconds.`);
    }
  });
});
