/**
 * Reading a server's state as the hub stores it, for tests of the spawn/stop
 * state machine: the row, the credentials issued for it, its route.
 */
import assert from 'node:assert/strict';
import { getServer, type ServerRow } from '../../src/db/repos/servers.js';
import { getUser } from '../../src/db/repos/users.js';
import { serverPrefix } from '../../src/hub/spawn-env.js';
import type { TestHub } from './hub.js';

export interface ServerRecord {
  row: ServerRow | undefined;
  /** The server's own API tokens (kind 'server'). */
  serverTokens: number;
  /** OAuth clients registered for the server. */
  oauthClients: number;
  /** Whether the proxy has a route for the server's prefix. */
  routed: boolean;
}

/** What the hub has stored for `user`'s server `server` (default ''). */
export async function serverRecord(t: TestHub, user: string, server = ''): Promise<ServerRecord> {
  const db = t.hub.db;
  const u = await getUser(db, user);
  assert.ok(u, `no user ${user}`);
  const row = await getServer(db, u.id, server);
  const tokens = await db.selectFrom('api_tokens').select('id').where('user_id', '=', u.id).where('kind', '=', 'server').where('server_name', '=', server).execute();
  const clients = await db.selectFrom('oauth_clients').select('identifier').where('user_id', '=', u.id).where('server_name', '=', server).execute();
  const routes = await t.hub.proxy.getAllRoutes();
  return { row, serverTokens: tokens.length, oauthClients: clients.length, routed: routes.has(serverPrefix(t.hub.urls, user, server)) };
}

/**
 * Asserts the server is back to "stopped" with nothing left behind: not
 * ready, nothing pending, no url or spawner state, no tokens, no OAuth
 * client, no route.
 */
export async function assertServerReset(t: TestHub, user: string, server = ''): Promise<void> {
  const r = await serverRecord(t, user, server);
  if (r.row) {
    assert.equal(r.row.ready, 0, 'ready');
    assert.equal(r.row.pending, null, 'pending');
    assert.equal(r.row.url, null, 'url');
    assert.equal(r.row.state, '{}', 'spawner state');
  }
  assert.equal(r.serverTokens, 0, 'server API tokens left');
  assert.equal(r.oauthClients, 0, 'OAuth clients left');
  assert.equal(r.routed, false, 'route left in the proxy');
}

/** Waits (polling every 50 ms, up to `ms`) until `check` returns true. */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what} not reached within ${ms} ms`);
}

/** The events of a server's progress stream (read until the hub ends it). */
export async function progressEvents(t: TestHub, token: string, user: string, server = ''): Promise<{ progress: number; message: string; failed?: boolean; ready?: boolean }[]> {
  const url = server ? `${t.hubUrl}/hub/api/users/${user}/servers/${server}/progress` : `${t.hubUrl}/hub/api/users/${user}/server/progress`;
  const res = await fetch(url, { headers: { Authorization: `token ${token}` } });
  assert.equal(res.status, 200);
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as { progress: number; message: string; failed?: boolean; ready?: boolean });
}
