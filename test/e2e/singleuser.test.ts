/**
 * End to end with real processes: `ganymede serve` (built), its built-in
 * proxy and the real `jupyterhub-singleuser` (nbclassic, ipykernel). A
 * browser-like client logs in through the proxy, starts a server, follows the
 * OAuth flow into it, runs 1+1 in a kernel over its websocket, and stops it.
 */
import { after, before, describe, it } from 'node:test';
import { E2eHub, singleUserFlow, stepper } from '../helpers/e2e.js';

describe('e2e: browser flow with the built-in proxy and jupyterhub-singleuser', { timeout: 120_000 }, () => {
  let hub: E2eHub;

  before(async () => {
    hub = await E2eHub.create('builtin');
    await hub.start();
  });

  after(async () => {
    await hub?.teardown();
  });

  it('logs in, spawns, OAuths into the server, runs a kernel, stops', async (t) => {
    await singleUserFlow(hub, stepper(t));
  });
});
