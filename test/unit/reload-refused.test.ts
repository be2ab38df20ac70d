/**
 * A refused reload changes nothing, not even for a moment: while the
 * services and roles of the new file are applied (and refused), requests
 * still see the running configuration.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ConfigReloader } from '../../src/hub/reload.js';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/lib/errors.js';
import type { Config } from '../../src/config/schema.js';

test('while a reload applies services, hub.config is the running one; a refusal keeps it and re-applies it', async () => {
  const current = validateConfig({ allowed_users: ['ann'] });
  const next = validateConfig({ allowed_users: ['ann', 'mallory'], services: [{ name: 'svc', api_token: 'a-long-enough-token-0000' }] });
  const hub = { config: current, hooks: {}, db: undefined as never, log: pino({ level: 'silent' }), identities: { clear: () => undefined } };
  const seen: { applying: string[]; visible: Config }[] = [];
  const reloader = new ConfigReloader(hub, {
    file: undefined,
    load: async () => ({ config: next, hooks: {} }) as never,
    applyServices: async (config) => {
      seen.push({ applying: config.services.map((s) => s.name), visible: hub.config });
      if (config.services.length) throw new ConfigError('config: services: "svc": refused for the test');
    },
  });
  const outcome = await reloader.reload('test');
  assert.equal(outcome.result, 'refused');
  assert.equal(hub.config, current);
  assert.deepEqual(seen.map((s) => s.applying), [['svc'], []], 'the new services, then the running ones again');
  for (const s of seen) assert.equal(s.visible, current, 'requests during the apply saw the running configuration');
});
