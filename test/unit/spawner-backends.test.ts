import pino from 'pino';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HubError } from '../../src/lib/errors.js';
import { namedBackends, optionsCheckingSpawner, trivialSpawner } from '../helpers/spawner-doubles.js';

/** SpawnerBackends: which back-end a start asks for, who may use it, and which one a stored row belongs to. */
describe('SpawnerBackends', () => {
  const local = trivialSpawner();
  const gpu = optionsCheckingSpawner();
  const backends = namedBackends({ local, gpu: { spawner: gpu, allowedGroups: ['hpc'] } });
  const user = { name: 'ann', admin: false, groups: [] as string[] };
  const member = { name: 'bob', admin: false, groups: ['hpc'] };
  const admin = { name: 'root', admin: true, groups: [] };

  const refused = (status: number, re: RegExp) => (err: unknown) => err instanceof HubError && err.status === status && re.test(err.message);

  it('picks the named back-end and hands on the options without `backend`', () => {
    const { backend, options } = backends.pick({ backend: 'gpu', size: 'small' }, member);
    assert.equal(backend.name, 'gpu');
    assert.deepEqual(options, { size: 'small' });
    assert.equal(backends.pick({}, user).backend.name, 'local');
    assert.equal(backends.pick({ backend: '' }, user).backend.name, 'local');
  });

  it('refuses an unknown or malformed name (400, listing the configured) and a group-limited one (403); admins pass', () => {
    assert.throws(() => backends.pick({ backend: 'nope' }, user), refused(400, /"nope".*configured: local, gpu/));
    assert.throws(() => backends.pick({ backend: 7 }, user), refused(400, /'backend'/));
    assert.throws(() => backends.pick({ backend: 'gpu' }, user), refused(403, /hpc/));
    assert.equal(backends.pick({ backend: 'gpu' }, admin).backend.name, 'gpu');
    assert.deepEqual(backends.forUser(user).map((b) => b.name), ['local']);
    assert.deepEqual(backends.forUser(member).map((b) => b.name), ['local', 'gpu']);
  });

  it('a user allowed no back-end is refused; one not allowed the default gets the first allowed one', () => {
    const limited = namedBackends({ a: { spawner: local, allowedGroups: ['x'] }, b: { spawner: gpu, allowedGroups: ['y'] } });
    assert.throws(() => limited.pick({}, user), refused(403, /any back-end/));
    assert.equal(limited.pick({}, { name: 'y', admin: false, groups: ['y'] }).backend.name, 'b');
  });

  it('forRow: the recorded name; a legacy row holding a kind goes to a back-end of that kind; empty or `default` to the default', () => {
    assert.equal(backends.forRow({ spawner: 'gpu' }).name, 'gpu');
    assert.equal(backends.forRow({ spawner: gpu.kind }).name, 'gpu');
    assert.equal(backends.forRow({ spawner: '' }).name, 'local');
    assert.equal(backends.forRow({ spawner: 'default' }).name, 'local');
  });

  it('forRow: a back-end no longer configured is never guessed: polls answer unknown, stop and start fail naming it', async () => {
    const retired = backends.forRow({ spawner: 'retired' });
    assert.equal(retired.name, 'retired');
    const log = pino({ level: 'silent' });
    const polled = await retired.spawner.poll({ v: 1, job_id: '12' }, { log });
    assert.equal(polled.status, 'unknown');
    assert.match(polled.status === 'unknown' ? polled.reason : '', /"retired".*no longer configured/);
    await assert.rejects(retired.spawner.stop({ v: 1, job_id: '12' }, { log }), /Cannot stop: .*"retired"/);
  });
});

describe('SpawnerBackends init and close', () => {
  it('close calls every back-end\'s close, bounded: one that hangs or throws does not keep the others or the caller waiting', async () => {
    const closed: string[] = [];
    const hangs = Object.assign(trivialSpawner(), { close: () => new Promise<void>(() => undefined) });
    const throws = Object.assign(trivialSpawner(), {
      close: async () => {
        throw new Error('pool already gone');
      },
    });
    const fine = Object.assign(trivialSpawner(), {
      close: async () => {
        closed.push('fine');
      },
    });
    const backends = namedBackends({ hangs, throws, fine });
    const warnings: string[] = [];
    const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as Parameters<typeof backends.close>[0];
    const began = Date.now();
    await backends.close(log, 200);
    assert.ok(Date.now() - began < 2000);
    assert.deepEqual(closed, ['fine']);
    assert.equal(warnings.length, 2);
  });

  it('init calls every back-end\'s init in order', async () => {
    const order: string[] = [];
    const a = Object.assign(trivialSpawner(), { init: async () => void order.push('a') });
    const b = Object.assign(trivialSpawner(), { init: async () => void order.push('b') });
    await namedBackends({ a, b }).init();
    assert.deepEqual(order, ['a', 'b']);
  });
});
