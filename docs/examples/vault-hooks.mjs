// ganymede.config.mjs: every server gets a Vault token of its own in NOTEBOOK_VAULT_TOKEN
// (the Keycloak/Vault platform stack), revoked when the server stops.
//
// The hub's environment names Vault: VAULT_ADDR (e.g. https://vault.example.org:8200) and
// VAULT_TOKEN (a token allowed to create child tokens with the policies below; keep it out of
// this file). Vault policies `user-<name>` and `group-<group>` are the site's own convention.
// test/integration/config-hooks.test.ts runs this file against a Vault stand-in.

/** POST to Vault's HTTP API with the hub's token; the answer's JSON, or an error naming the call. */
async function vault(path, body) {
  const addr = process.env.VAULT_ADDR;
  const token = process.env.VAULT_TOKEN;
  if (!addr || !token) throw new Error('VAULT_ADDR and VAULT_TOKEN must be set in the hub environment');
  const res = await fetch(new URL(path, addr), {
    method: 'POST',
    headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  // Vault's error bodies are {errors: [...]}; its message is enough, the token never appears in it
  if (!res.ok) throw new Error(`Vault answered ${res.status} to ${path}`);
  return res.status === 204 ? {} : res.json();
}

/** Accessors of the tokens handed out, by server, to revoke them at stop (lost at a hub restart: the TTL ends them). */
const accessors = new Map();

export default {
  // ...the rest of the configuration (auth, spawner, ...) as in a YAML file
  hooks: {
    async pre_spawn_hook({ user, serverName, groups, env, log }) {
      const { auth } = await vault('/v1/auth/token/create', {
        policies: [`user-${user}`, ...groups.map((g) => `group-${g}`)],
        ttl: '12h',
        renewable: true,
        display_name: `jupyter-${user}`,
        meta: { user, server: serverName },
      });
      env.NOTEBOOK_VAULT_TOKEN = auth.client_token;
      accessors.set(`${user}/${serverName}`, auth.accessor);
      log.info({ policies: auth.policies, ttl: auth.lease_duration }, 'created a Vault token for the server');
    },
    async post_stop_hook({ user, serverName, log }) {
      const accessor = accessors.get(`${user}/${serverName}`);
      if (!accessor) return;
      accessors.delete(`${user}/${serverName}`);
      await vault('/v1/auth/token/revoke-accessor', { accessor });
      log.info('revoked the Vault token of the server');
    },
  },
};
