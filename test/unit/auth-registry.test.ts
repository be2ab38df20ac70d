import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Type, type TSchema } from '@sinclair/typebox';
import { AUTH_BACKENDS, AuthConfigSchema } from '../../src/auth/registry.js';
import { authKindSchema, CommonAuthOptions } from '../../src/auth/common-options.js';
import { optionDocs } from '../../src/config/docs.js';
import { schemaErrors, validateConfig } from '../../src/config/load.js';

/**
 * The auth registry is a map of kind to {schema, create}: `config.auth` is
 * the union of its schemas, every schema carries the common auth options,
 * and the generated reference lists a union's shared options once.
 */
describe('auth registry and the config union', () => {
  it('config.auth is the union of every registered kind', () => {
    // (TypeBox makes a union of one kind that kind's schema itself)
    const members = (AuthConfigSchema as unknown as { anyOf?: TSchema[] }).anyOf ?? [AuthConfigSchema as TSchema];
    const kinds = members.map((m) => m['properties']['kind']['const']);
    assert.deepEqual(kinds, Object.keys(AUTH_BACKENDS));
  });

  it('every kind has every common auth option', () => {
    for (const [kind, backend] of Object.entries(AUTH_BACKENDS)) {
      for (const key of Object.keys(CommonAuthOptions.properties)) assert.ok(key in backend.schema.properties, `${kind} lacks ${key}`);
    }
  });

  it('the common options get their defaults, and an unknown auth key is refused naming it', () => {
    const config = validateConfig({});
    assert.equal(config.auth.kind, 'shared-password');
    assert.deepEqual(config.auth.allowed_groups, []);
    assert.equal(config.auth.auth_refresh_age, 300);
    assert.equal(config.auth.enable_auth_state, false);
    assert.throws(() => validateConfig({ auth: { kind: 'shared-password', admin_group: ['x'] } }), /auth\.admin_group: unknown option/);
    assert.throws(() => validateConfig({ auth: { kind: 'nope' } }), /auth\.kind: .*"nope"/);
  });

  it('the reference lists the options of a union once, and says which kind has the others', () => {
    const union = Type.Union([authKindSchema('one', { a: Type.String({ default: '', description: 'A.' }) }), authKindSchema('two', {})]);
    const docs = optionDocs(Type.Object({ auth: union }));
    const keys = docs.map((d) => d.key);
    assert.equal(keys.filter((k) => k === 'auth.allowed_groups').length, 1);
    assert.equal(docs.find((d) => d.key === 'auth.kind')?.type, '"one" | "two"');
    assert.match(docs.find((d) => d.key === 'auth.a')!.description, /^Only with `kind: one`\. A\./);
    assert.doesNotMatch(docs.find((d) => d.key === 'auth.allowed_groups')!.description, /Only with/);
  });
});

describe('config errors inside a union of kinds', () => {
  it('name the key inside the kind the value names, not "expected union value"', () => {
    const schema = Type.Object({
      auth: Type.Union([authKindSchema('one', {}), authKindSchema('two', { client_id: Type.String({ description: 'id' }) })], { default: { kind: 'one' } }),
    });
    const missing = schemaErrors(schema, { auth: { kind: 'two' } });
    assert.deepEqual([...new Set(missing.map((e) => e.path))], ['/auth/client_id']);
    const wrong = schemaErrors(schema, { auth: { kind: 'two', client_id: 'x', manage_groups: 'yes' } });
    assert.deepEqual([...new Set(wrong.map((e) => e.path))], ['/auth/manage_groups']);
    assert.deepEqual(schemaErrors(schema, { auth: { kind: 'two', client_id: 'x' } }), []);
  });
});
