/** The message of a spawn given up at start_timeout (src/hub/server-manager.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTimeoutMessage } from '../../src/hub/server-manager.js';

describe('startTimeoutMessage', () => {
  it('names the server and the limit, and the last step the spawner reported when there is one', () => {
    assert.equal(startTimeoutMessage("bob's server", 8, undefined), "Server bob's server did not start within 8 seconds");
    assert.equal(
      startTimeoutMessage("bob's server", 8, 'Job 7 is queued (reason: Resources); its log will be /home/bob/x.log'),
      "Server bob's server did not start within 8 seconds; the last step was: Job 7 is queued (reason: Resources); its log will be /home/bob/x.log",
    );
  });
});
