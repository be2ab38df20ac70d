import { test } from 'node:test';
import { E2eHub } from '/work/main/test/helpers/e2e.ts';
test('td', async () => {
  const hub = await E2eHub.create('builtin');
  let t = Date.now();
  await hub.start(); console.log('start', Date.now()-t); t = Date.now();
  await hub.spawnViaApi('alice'); console.log('spawn', Date.now()-t); t = Date.now();
  await hub.stopServer('alice'); console.log('stop', Date.now()-t); t = Date.now();
  await hub.stopHub(); console.log('stopHub', Date.now()-t); t = Date.now();
  await hub.teardown(); console.log('teardown', Date.now()-t);
});
