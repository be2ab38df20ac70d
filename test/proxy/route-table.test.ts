import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RouteTable, normalizeRouteKey, pathSegments } from '../../src/proxy/builtin/route-table.js';

const t = (target: string) => ({ target });

describe('route table', () => {
  it('normalises keys like CHP: leading slash, no trailing slash except root', () => {
    assert.equal(normalizeRouteKey('/user/alice/'), '/user/alice');
    assert.equal(normalizeRouteKey('user/alice'), '/user/alice');
    assert.equal(normalizeRouteKey('/'), '/');
    assert.equal(normalizeRouteKey(''), '/');
    assert.equal(normalizeRouteKey('//'), '/');
    assert.deepEqual(pathSegments('/a//b/'), ['a', '', 'b']);
  });

  it('picks the longest whole-segment prefix', () => {
    const table = new RouteTable();
    table.set('/', t('hub'));
    table.set('/user/alice/', t('alice'));
    table.set('/user/alice/lab', t('alice-lab'));
    const target = (p: string) => table.match(p)?.data.target;
    assert.equal(target('/user/alice'), 'alice');
    assert.equal(target('/user/alice/'), 'alice');
    assert.equal(target('/user/alice/tree/x.ipynb'), 'alice');
    assert.equal(target('/user/alice/lab/tree'), 'alice-lab');
    assert.equal(target('/user/alicex'), 'hub', '/user/alicex must not match /user/alice');
    assert.equal(target('/user/alicex/tree'), 'hub');
    assert.equal(target('/user'), 'hub');
    assert.equal(target('/hub/login'), 'hub');
    assert.equal(table.match('/user/alice/tree')?.key, '/user/alice');
  });

  it('matches nothing without a root route', () => {
    const table = new RouteTable();
    table.set('/user/alice', t('alice'));
    assert.equal(table.match('/user/bob'), undefined);
    assert.equal(table.match('/'), undefined);
    assert.equal(table.match('/user'), undefined);
  });

  it('replaces, gets and deletes routes, pruning empty branches', () => {
    const table = new RouteTable();
    table.set('/a/b/c', t('1'));
    table.set('/a/b/c/', t('2'));
    assert.equal(table.size, 1);
    assert.equal(table.get('/a/b/c/')?.data.target, '2');
    assert.equal(table.delete('/a/b'), false);
    assert.equal(table.delete('/a/b/c/'), true);
    assert.equal(table.delete('/a/b/c'), false);
    assert.equal(table.size, 0);
    assert.equal(table.match('/a/b/c/d'), undefined);
    table.set('/', t('root'));
    assert.equal(table.match('/a/b/c/d')?.data.target, 'root');
    assert.equal(table.delete('/'), true);
    assert.equal(table.match('/anything'), undefined);
  });

  it('keeps a parent route when a child is deleted', () => {
    const table = new RouteTable();
    table.set('/user/alice', t('alice'));
    table.set('/user/alice/x', t('x'));
    table.delete('/user/alice/x');
    assert.equal(table.match('/user/alice/x/y')?.data.target, 'alice');
  });

  it('stays fast with 10,000 routes', () => {
    const table = new RouteTable();
    table.set('/', t('hub'));
    for (let i = 0; i < 10_000; i++) table.set(`/user/u${i}/`, t(`http://10.0.${i % 250}.${i % 200}:8888`));
    assert.equal(table.size, 10_001);
    const start = process.hrtime.bigint();
    for (let i = 0; i < 100_000; i++) {
      const entry = table.match(`/user/u${i % 10_000}/api/kernels/abc`);
      if (entry?.key !== `/user/u${i % 10_000}`) assert.fail(`wrong match for ${i}`);
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.ok(ms < 1000, `100k lookups took ${ms} ms`);
  });
});
