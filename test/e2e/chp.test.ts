/**
 * The browser flow of singleuser.test.ts with the npm
 * configurable-http-proxy as the hub's proxy (`proxy.command`).
 */
import { after, before, describe, it } from 'node:test';
import { E2eHub, singleUserFlow, stepper } from '../helpers/e2e.js';

describe('e2e: browser flow with configurable-http-proxy and jupyterhub-singleuser', { timeout: 120_000 }, () => {
  let hub: E2eHub;

  before(async () => {
    hub = await E2eHub.create('chp');
    await hub.start();
  });

  after(async () => {
    await hub?.teardown();
  });

  it('logs in, spawns, OAuths into the server, runs a kernel, stops', async (t) => {
    await singleUserFlow(hub, stepper(t));
  });
});
