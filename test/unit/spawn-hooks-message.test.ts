import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { environmentFromHooks, HOOK_MESSAGE_MAX } from '../../src/hub/spawn-hooks.js';
import type { Hub } from '../../src/hub/context.js';
import { SpawnError } from '../../src/lib/errors.js';

const ctx = { user: 'ann', admin: false, groups: [], serverName: '', backend: 'default', userOptions: {}, authState: null, log: pino({ level: 'silent' }) };

test("a hook's huge error message (an HTML error page) reaches the user clipped, naming the hook", async () => {
  const page = `<html>${'x'.repeat(200_000)}</html>`;
  const hub = { hooks: { pre_spawn_hook: () => Promise.reject(new Error(page)) } } as unknown as Hub;
  await assert.rejects(environmentFromHooks(hub, ctx, 'ann', {}), (err: unknown) => {
    assert.ok(err instanceof SpawnError);
    assert.match(err.message, /^Spawn of ann was refused by the hub's pre_spawn_hook: <html>x+… \(200013 characters\)$/);
    assert.ok(err.message.length < HOOK_MESSAGE_MAX + 120, String(err.message.length));
    return true;
  });
  const short = { hooks: { modify_env: () => { throw new Error('vault is sealed'); } } } as unknown as Hub;
  await assert.rejects(environmentFromHooks(short, ctx, 'ann', {}), /refused by the hub's modify_env: vault is sealed$/);
});
