import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBounded } from '../../src/lib/bounded.js';

describe('forEachBounded', () => {
  it('works on every item with at most `limit` under way', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachBounded([...Array(100).keys()], 7, async (i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, i % 3));
      done.push(i);
      running--;
    });
    assert.equal(done.length, 100);
    assert.equal(most, 7);
  });

  it('finishes every item, then throws the first failure', async () => {
    const done: number[] = [];
    await assert.rejects(
      forEachBounded([1, 2, 3, 4, 5], 2, async (i) => {
        if (i === 2) throw new Error('two');
        if (i === 4) throw new Error('four');
        done.push(i);
      }),
      /two/,
    );
    assert.deepEqual(done.sort(), [1, 3, 5]);
  });

  it('does nothing for no items', async () => {
    await forEachBounded([], 4, async () => assert.fail('called'));
  });
});
