import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createServiceToken, findServiceToken, getService, listServices, rolesOfService } from '../../src/db/repos/services.js';
import { loadServices } from '../../src/hub/services-loader.js';
import { loadRoles } from '../../src/hub/roles-loader.js';
import { identifyService } from '../../src/hub/service-identity.js';
import { validateConfig } from '../../src/config/load.js';
import { migratedStore, STORE_DIALECTS } from '../helpers/store-dialects.js';

/** Services, their tokens and roles on every dialect (migration 0002). */
const dialects = STORE_DIALECTS;
const quiet = pino({ level: 'silent' });

for (const dialect of dialects) {
  describe(`services store on ${dialect.name}`, () => {
    const store = migratedStore(dialect);

    it('loads services, their config tokens and roles; tokens are stored hashed', async (t) => {
      const database = store.database;
      if (!database) return t.skip('no PostgreSQL');
      const db = database.db;
      const cfg = validateConfig({
        services: [{ name: 'culler', api_token: 'a-long-culler-token-0001' }, { name: 'dash', admin: true }],
        roles: [{ name: 'culler-role', scopes: ['list:users', 'delete:servers'], services: ['culler'] }],
      });
      await loadServices(db, cfg.services, quiet);
      await loadRoles(db, cfg.roles, cfg.services);
      assert.deepEqual((await listServices(db)).map((s) => s.name), ['culler', 'dash']);
      const culler = (await getService(db, 'culler'))!;
      assert.deepEqual(await rolesOfService(db, culler.id), ['culler-role']);
      const stored = await db.selectFrom('service_tokens').select(['hashed', 'kind']).execute();
      assert.equal(stored.length, 1);
      assert.notEqual(stored[0]!.hashed, 'a-long-culler-token-0001');
      const who = await identifyService(db, 'a-long-culler-token-0001');
      assert.equal(who?.service.name, 'culler');
      assert.ok(who?.scopes.has('list:users'));
      assert.ok(!who?.scopes.has('admin:users'));
      // a second start with the same config keeps the one token
      await loadServices(db, cfg.services, quiet);
      assert.equal((await db.selectFrom('service_tokens').select('id').execute()).length, 1);
      // extra tokens, an expired one, and removal
      const { token } = await createServiceToken(db, culler.id, { kind: 'api', scopes: ['list:users'] });
      assert.ok(await findServiceToken(db, token));
      const expired = await createServiceToken(db, culler.id, { kind: 'api', scopes: ['list:users'], expiresIn: 1 });
      await db.updateTable('service_tokens').set({ expires_at: '2000-01-01T00:00:00.000Z' }).where('id', '=', expired.row.id).execute();
      assert.equal(await findServiceToken(db, expired.token), undefined);
      await loadServices(db, validateConfig({ services: [{ name: 'dash' }] }).services, quiet);
      assert.equal(await findServiceToken(db, token), undefined);
      assert.equal(await getService(db, 'culler'), undefined);
      assert.equal((await db.selectFrom('service_roles').select('role').execute()).length, 0);
      // no service ever became a user
      assert.equal((await db.selectFrom('users').select('id').execute()).length, 0);
    });

    it('inline roles and scopes: the implicit role is created, assigned, updated and deleted with the scopes', async (t) => {
      const database = store.database;
      if (!database) return t.skip('no PostgreSQL');
      const db = database.db;
      const load = async (raw: Record<string, unknown>) => {
        const cfg = validateConfig(raw);
        await loadServices(db, cfg.services, quiet);
        await loadRoles(db, cfg.roles, cfg.services);
      };
      const roles = [{ name: 'reader', scopes: ['read:users'], services: ['both'] }];
      await load({ services: [{ name: 'both', scopes: ['list:users'], roles: ['admin'] }, { name: 'plain', roles: ['reader'] }], roles });
      const both = (await getService(db, 'both'))!;
      const plain = (await getService(db, 'plain'))!;
      assert.deepEqual((await rolesOfService(db, both.id)).sort(), ['_service-both', 'admin', 'reader']);
      assert.deepEqual(await rolesOfService(db, plain.id), ['reader']);
      const stored = await db.selectFrom('roles').select(['name', 'scopes']).where('name', '=', '_service-both').executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(stored.scopes), ['list:users']);
      // the same config again: the same rows
      await load({ services: [{ name: 'both', scopes: ['list:users'], roles: ['admin'] }, { name: 'plain', roles: ['reader'] }], roles });
      assert.deepEqual((await rolesOfService(db, both.id)).sort(), ['_service-both', 'admin', 'reader']);
      // scopes changed, then dropped; an inline role dropped
      await load({ services: [{ name: 'both', scopes: ['list:groups'] }, { name: 'plain' }], roles });
      assert.deepEqual(JSON.parse((await db.selectFrom('roles').select('scopes').where('name', '=', '_service-both').executeTakeFirstOrThrow()).scopes), ['list:groups']);
      assert.deepEqual(await rolesOfService(db, plain.id), []);
      await load({ services: [{ name: 'both' }, { name: 'plain' }], roles });
      assert.deepEqual(await rolesOfService(db, both.id), ['reader']);
      assert.equal(await db.selectFrom('roles').select('name').where('name', '=', '_service-both').executeTakeFirst(), undefined);
      // a token kind 'managed' is stored and found like the others
      const { token } = await createServiceToken(db, both.id, { kind: 'managed', scopes: ['inherit'] });
      assert.equal((await findServiceToken(db, token))?.kind, 'managed');
    });
  });
}
