/**
 * What the client's failures become: a Status message from the API server
 * is outside text (control and bidi characters out, clipped) before it
 * reaches an error a user reads or a log line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kubeApiErrorFrom } from '../../src/spawners/kubernetes/kube-errors.js';

describe('kubeApiErrorFrom', () => {
  it("cleans the API server's Status message: no bidi or control characters, blanks folded, clipped", () => {
    const body = { kind: 'Status', reason: 'Forbidden', message: 'pods "x" is \u202eforbidden\u202c:\n\n  quota\u2066 exceeded' + 'y'.repeat(500) };
    const err = kubeApiErrorFrom('create pod hub/x', { code: 403, body });
    assert.equal(err.status, 403);
    assert.equal(err.reason, 'Forbidden');
    assert.doesNotMatch(err.message, /[\u202a-\u202e\u2066-\u2069\n]/);
    assert.match(err.message, /^Kubernetes: create pod hub\/x failed with HTTP 403 \(Forbidden\): pods "x" is forbidden : quota exceededy+…\.$/);
    assert.ok(err.message.length < 400);
  });
});
