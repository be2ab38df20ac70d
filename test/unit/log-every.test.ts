import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LogEvery } from '../../src/lib/log-every.js';

describe('LogEvery', () => {
  it('lets one line through per period and counts the others', () => {
    const every = new LogEvery(1000);
    assert.equal(every.due(10_000), 0);
    assert.equal(every.due(10_500), undefined);
    assert.equal(every.due(10_999), undefined);
    assert.equal(every.due(11_000), 2);
    assert.equal(every.due(20_000), 0);
  });
});
