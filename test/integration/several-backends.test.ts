import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { updateServer } from '../../src/db/repos/servers.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { Browser, xsrfOf } from '../helpers/browser.js';
import { namedBackends, optionsCheckingSpawner, trivialSpawner, type TrivialSpawner } from '../helpers/spawner-doubles.js';
import { eventually, serverRecord } from '../helpers/server-state.js';

/**
 * Several named back-ends in one hub (`spawners:`): the start request's
 * `backend` option (or the spawn form's radio) picks one, limited by its
 * `allowed_groups` (admins pass); the server's row records it, and poll,
 * stop and re-attach use the recorded one whatever the order (and so the
 * default) later becomes.
 */
describe('several back-ends in one hub', () => {
  const make = () => ({
    local: trivialSpawner({ optionsForm: '<input name="local_note" value="">' }),
    gpu: optionsCheckingSpawner('gpu_size'),
    open: trivialSpawner(),
  });
  const first = make();
  const second = make();
  const backends = (s: ReturnType<typeof make>, order: (keyof ReturnType<typeof make>)[] = ['local', 'gpu', 'open']) =>
    namedBackends(
      Object.fromEntries(
        order.map((n) => [n, n === 'gpu' ? { spawner: s.gpu, allowedGroups: ['gpu-users'], displayName: 'GPU cluster', description: 'Slurm, 4 GPUs a node' } : { spawner: s[n] }]),
      ),
    );
  let t: TestHub;
  let t2: TestHub | undefined;
  let admin: string;
  let member: string;
  let outsider: string;

  before(async () => {
    t = await startTestHub({ allow_named_servers: true }, { spawners: backends(first) });
    admin = await t.tokenFor('root', { admin: true });
    member = await t.tokenFor('gina');
    outsider = await t.tokenFor('otto');
    assert.equal((await t.api('POST', '/groups/gpu-users', { token: admin })).status, 201);
    assert.equal((await t.api('POST', '/groups/gpu-users/users', { token: admin, body: { users: ['gina'] } })).status, 200);
  });
  after(async () => {
    if (t2) await t2.stop();
    else await t.stop();
    for (const s of [...Object.values(first), ...Object.values(second)] as TrivialSpawner[]) await s.killAll();
  });

  it('the start request\'s backend option picks the back-end; none picks the first; the model shows backend in user_options', async () => {
    assert.equal((await t.api('POST', '/users/gina/servers/a', { token: member, body: { backend: 'gpu', size: 'LARGE' } })).status, 201);
    assert.equal(first.gpu.calls.length, 1);
    assert.equal(first.gpu.calls[0]!.request.backend, 'gpu');
    assert.deepEqual(first.gpu.calls[0]!.request.userOptions, { size: 'large' }, 'the spawner gets its own options, without backend');
    assert.equal((await serverRecord(t, 'gina', 'a')).row!.spawner, 'gpu');
    assert.equal((await t.api('POST', '/users/gina/servers/b', { token: member })).status, 201);
    assert.equal(first.local.calls.length, 1);
    assert.equal((await serverRecord(t, 'gina', 'b')).row!.spawner, 'local');
    const model = (await t.api('GET', '/users/gina', { token: member })).body as { servers: Record<string, { user_options: unknown }> };
    assert.deepEqual(model.servers['a']!.user_options, { backend: 'gpu', size: 'large' });
    assert.deepEqual(model.servers['b']!.user_options, { backend: 'local' });
  });

  it('an unknown back-end is a 400 listing the configured ones; a bad type is a 400', async () => {
    const res = await t.api('POST', '/users/gina/servers/c', { token: member, body: { backend: 'cluster-z' } });
    assert.equal(res.status, 400);
    assert.match((res.body as { message: string }).message, /cluster-z/);
    assert.match((res.body as { message: string }).message, /local, gpu, open/);
    const typed = await t.api('POST', '/users/gina/servers/c', { token: member, body: { backend: ['gpu'] } });
    assert.equal(typed.status, 400);
    assert.match((typed.body as { message: string }).message, /'backend'/);
  });

  it('allowed_groups: a non-member is refused with 403 and nothing is started; an admin passes', async () => {
    const res = await t.api('POST', '/users/otto/servers/x', { token: outsider, body: { backend: 'gpu' } });
    assert.equal(res.status, 403, res.text);
    assert.match((res.body as { message: string }).message, /gpu-users/);
    assert.equal(first.gpu.calls.length, 1);
    assert.equal((await serverRecord(t, 'otto', 'x')).row, undefined);
    assert.equal((await t.api('POST', '/users/root/servers/x', { token: admin, body: { backend: 'gpu' } })).status, 201);
    assert.equal(first.gpu.calls.length, 2);
  });

  it('the spawn form offers only the allowed back-ends, each one\'s fields enabled only for the chosen one, preselecting the last used', async () => {
    const o = new Browser(t.hubUrl);
    assert.equal((await o.login('otto', 'test-password')).status, 302);
    const oHtml = await (await o.get('/hub/spawn')).text();
    assert.deepEqual([...oHtml.matchAll(/type="radio" name="backend" value="([^"]+)"/g)].map((m) => m[1]), ['local', 'open']);
    assert.doesNotMatch(oHtml, /gpu_size|GPU cluster/);

    const g = new Browser(t.hubUrl);
    assert.equal((await g.login('gina', 'test-password')).status, 302);
    // gina's default server has no options yet: the first back-end is chosen
    let html = await (await g.get('/hub/spawn')).text();
    assert.deepEqual([...html.matchAll(/type="radio" name="backend" value="([^"]+)"/g)].map((m) => m[1]), ['local', 'gpu', 'open']);
    assert.match(html, /value="local" checked/);
    assert.match(html, /GPU cluster/);
    assert.match(html, /Slurm, 4 GPUs a node/);
    assert.match(html, /data-backend="local">/);
    assert.match(html, /data-backend="gpu" disabled hidden>[^]*name="gpu_size"/);
    // start on gpu through the form, with its own field
    const xsrf = xsrfOf(html, '/hub/spawn');
    const posted = await g.post('/hub/spawn', { _xsrf: xsrf, backend: 'gpu', gpu_size: 'large' });
    assert.equal(posted.status, 302);
    await eventually(async () => (await serverRecord(t, 'gina')).row?.ready === 1, 5000, 'the form spawn');
    assert.equal((await serverRecord(t, 'gina')).row!.spawner, 'gpu');
    assert.deepEqual(JSON.parse((await serverRecord(t, 'gina')).row!.user_options), { backend: 'gpu', size: 'large' });
    assert.equal((await t.api('DELETE', '/users/gina/server', { token: member })).status, 204);
    // the form preselects the last used back-end, its fields enabled, the others' disabled
    html = await (await g.get('/hub/spawn')).text();
    assert.match(html, /value="gpu" checked/);
    assert.doesNotMatch(html, /value="local" checked/);
    assert.match(html, /data-backend="gpu">[^]*<option value="large" selected>/);
    assert.match(html, /data-backend="local" disabled hidden>/);
    // a refused option: the form again, still on the back-end just chosen
    const wrong = await g.post('/hub/spawn', { _xsrf: xsrf, backend: 'local', local_note: 'x', gpu_size: 'large' });
    assert.equal(wrong.status, 302, 'local takes any field');
    await eventually(async () => (await serverRecord(t, 'gina')).row?.ready === 1, 5000, 'the local form spawn');
    assert.equal((await t.api('DELETE', '/users/gina/server', { token: member })).status, 204);
    const refusedSize = await g.post('/hub/spawn', { _xsrf: xsrf, backend: 'gpu', gpu_size: 'enormous' });
    assert.equal(refusedSize.status, 400);
    const again = await refusedSize.text();
    assert.match(again, /must be one of small, large/);
    assert.match(again, /value="gpu" checked/, 'the form shown again forgot the chosen back-end');
    assert.match(again, /data-backend="gpu">/);
    assert.doesNotMatch(again, /<option value="large" selected>/, 'gpu preselected from options of another back-end');
    // a back-end the user may not use, posted anyway: the form again with the refusal
    const refused = await o.post('/hub/spawn', { _xsrf: xsrfOf(oHtml, '/hub/spawn'), backend: 'gpu', gpu_size: 'small' });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /may not start servers on back-end/);
    assert.equal((await serverRecord(t, 'otto')).row?.pending ?? null, null);
  });

  it('poll, stop and re-attach use the recorded back-end even after the configured order (the default) changes', async () => {
    // same hub, new order: open first
    const reordered = backends(first, ['open', 'gpu', 'local']);
    t.hub.spawners = reordered;
    const gpuPolls = first.gpu.polls.length;
    const localPolls = first.local.polls.length;
    const openPolls = first.open.polls.length;
    await t.hub.servers.pollRound();
    assert.equal(first.gpu.polls.length - gpuPolls, 2, 'gina/a and root/x polled by gpu');
    assert.equal(first.local.polls.length - localPolls, 1, 'gina/b polled by local');
    assert.equal(first.open.polls.length, openPolls, 'the new default polled servers of other back-ends');
    assert.equal((await t.api('DELETE', '/users/root/servers/x', { token: admin })).status, 204);
    assert.equal(first.gpu.stops.length, 2, 'the stop went to gpu (the form spawn, then root/x)');
    assert.equal(first.open.stops.length, 0);
    // a restart whose config lists the back-ends in another order
    await t.detach();
    t2 = await startTestHub({ allow_named_servers: true }, { spawners: backends(second, ['open', 'local', 'gpu']), dataDir: t.dataDir, proxyServer: t.proxyServer, hubPort: t.hubPort, reattach: true });
    assert.deepEqual(t2.reattached, { kept: 2, cleared: 0, resumed: 0 });
    assert.equal(second.gpu.polls.length, 1);
    assert.equal(second.local.polls.length, 1);
    assert.equal(second.open.polls.length, 0);
    for (const s of ['a', 'b']) assert.equal((await fetch(`${t2.publicUrl}/user/gina/${s}/api`)).status, 200);
    // the default is now `open`: a start naming none lands there
    assert.equal((await t2.api('POST', '/users/gina/servers/c', { token: member })).status, 201);
    assert.equal((await serverRecord(t2, 'gina', 'c')).row!.spawner, 'open');
    assert.equal((await t2.api('DELETE', '/users/gina/servers/a', { token: member })).status, 204);
    assert.equal(second.gpu.stops.length, 1);
  });

  it('a start with no options whose remembered options name a back-end no longer configured starts on the default one with none', async () => {
    const row = (await serverRecord(t2!, 'gina', 'c')).row!;
    assert.equal((await t2!.api('DELETE', '/users/gina/servers/c', { token: member })).status, 204);
    await updateServer(t2!.hub.db, row.id, { user_options: JSON.stringify({ backend: 'retired', size: 'xl' }), spawner: 'retired' });
    const calls = second.open.calls.length;
    const res = await t2!.api('POST', '/users/gina/servers/c', { token: member });
    assert.equal(res.status, 201, res.text);
    assert.equal(second.open.calls.length, calls + 1);
    assert.deepEqual(second.open.calls.at(-1)!.request.userOptions, {});
    assert.deepEqual(JSON.parse((await serverRecord(t2!, 'gina', 'c')).row!.user_options), { backend: 'open' });
    assert.equal((await serverRecord(t2!, 'gina', 'c')).row!.spawner, 'open');
  });

  it('/hub/api/info names the default back-end\'s spawner', async () => {
    const info = (await t2!.api('GET', '/info', { token: admin })).body as { spawner: { class: string } };
    assert.equal(info.spawner.class, 'ganymede.spawners.trivial-double');
  });
});

describe('the spawn form of a user allowed a single back-end among several', () => {
  it('shows that back-end\'s own form (no choice), preselected only from its own options', async () => {
    const sized = optionsCheckingSpawner();
    const restricted = optionsCheckingSpawner();
    const t = await startTestHub({}, { spawners: namedBackends({ hpc: { spawner: restricted, allowedGroups: ['hpc'] }, sized }) });
    try {
      const u = await t.tokenFor('una');
      // una's server last ran on hpc (before she left the group) with size large
      assert.equal((await t.api('POST', '/users/una/server', { token: u, body: { backend: 'sized' } })).status, 201);
      assert.equal((await t.api('DELETE', '/users/una/server', { token: u })).status, 204);
      const row = (await serverRecord(t, 'una')).row!;
      await updateServer(t.hub.db, row.id, { user_options: JSON.stringify({ backend: 'hpc', size: 'large' }) });
      const b = new Browser(t.hubUrl);
      assert.equal((await b.login('una', 'test-password')).status, 302);
      const html = await (await b.get('/hub/spawn')).text();
      assert.doesNotMatch(html, /name="backend"/);
      assert.match(html, /<select name="size">/);
      assert.doesNotMatch(html, /<option value="large" selected>/, 'preselected from another back-end\'s options');
      // with her own back-end's options remembered, they are preselected
      await updateServer(t.hub.db, row.id, { user_options: JSON.stringify({ backend: 'sized', size: 'large' }) });
      assert.match(await (await b.get('/hub/spawn')).text(), /<option value="large" selected>/);
      // posting the form starts on the one allowed back-end
      const posted = await b.post('/hub/spawn', { _xsrf: xsrfOf(html, '/hub/spawn'), size: 'small' });
      assert.equal(posted.status, 302);
      await eventually(async () => (await serverRecord(t, 'una')).row?.ready === 1, 5000, 'the form spawn');
      assert.equal((await serverRecord(t, 'una')).row!.spawner, 'sized');
      assert.equal(restricted.calls.length, 0);
    } finally {
      await t.stop();
      await sized.killAll();
    }
  });
});
