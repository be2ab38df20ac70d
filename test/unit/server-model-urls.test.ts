/** The server model's URLs, joined by concatenation, are those serverPrefix and urlJoin give. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverModel, userModel } from '../../src/api/models.js';
import { serverPrefix } from '../../src/hub/spawn-env.js';
import { quotePath, urlJoin } from '../../src/lib/names.js';
import type { Hub } from '../../src/hub/context.js';
import type { UserRow } from '../../src/db/repos/users.js';
import type { ServerModelRow } from '../../src/db/repos/servers.js';
import type { Requester } from '../../src/hub/service-identity.js';

const server = (name: string): ServerModelRow => ({ user_id: 1, name, state: '{"v":1}', started: null, last_activity: null, user_options: name ? '{"a":1}' : '{}', pending: null, ready: 1 });

describe('server model URLs', () => {
  for (const base of ['/', '/jh/', '/a/b/']) {
    it(`match serverPrefix and urlJoin under base_url ${base}`, () => {
      const urls = { base, hub: urlJoin(base, 'hub/'), internal: 'http://127.0.0.1:8081', api: 'http://127.0.0.1:8081/hub/api' };
      const hub = { urls } as unknown as Hub;
      for (const userName of ['ann', 'a b@c', "o'neil(1)*", 'ü-ß', 'x%2F']) {
        const user = { id: 1, name: userName, admin: 0, created: 'c', last_activity: null, auth_state: null } as unknown as UserRow;
        for (const name of ['', 'gpu', 'x y!', 'ü']) {
          const m = serverModel(hub, user, server(name), false);
          assert.equal(m['url'], serverPrefix(urls, userName, name));
          const progress = name ? urlJoin(urls.hub, 'api/users', quotePath(userName), 'servers', quotePath(name), 'progress') : urlJoin(urls.hub, 'api/users', quotePath(userName), 'server/progress');
          assert.equal(m['progress_url'], progress);
          assert.deepEqual(m['user_options'], name ? { a: 1 } : {});
        }
        const who = { kind: 'user', scopes: new Set(['read:users', 'read:servers']) } as unknown as Requester;
        const model = userModel(hub, who, user, { groups: [], roles: ['user'], servers: [server('')] }, false);
        assert.equal(model['server'], serverPrefix(urls, userName, ''));
      }
    });
  }
});
