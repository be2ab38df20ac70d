/**
 * PKCE (RFC 7636) on the hub's OAuth provider: a client that sends a
 * `code_challenge` with its authorization request must prove, with the
 * `code_verifier`, that it is the one exchanging the code. A code issued
 * without a challenge is refused when a verifier comes with it (RFC 9700
 * §2.1.1): that is a request whose challenge was stripped on the way.
 */
import { createHash } from 'node:crypto';
import { safeEqual } from '../lib/crypto.js';

/** The challenge of an authorization request, as stored with its code. */
export interface PkceChallenge {
  challenge: string;
  method: 'S256' | 'plain';
}

/** RFC 7636 §4.1 and §4.2: 43 to 128 unreserved characters. */
const PKCE_VALUE = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * The PKCE challenge of an authorization request's parameters: undefined when
 * there is none, a string naming the problem when it is malformed (a method
 * without a challenge, an unknown method, a challenge of the wrong form).
 */
export function readChallenge(challenge: unknown, method: unknown): PkceChallenge | undefined | string {
  if (challenge === undefined) {
    return method === undefined ? undefined : 'code_challenge_method given without code_challenge';
  }
  if (typeof challenge !== 'string' || !PKCE_VALUE.test(challenge)) return 'code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.2)';
  const m = method === undefined ? 'plain' : method;
  if (m !== 'S256' && m !== 'plain') return `code_challenge_method must be "S256" or "plain", got ${JSON.stringify(typeof m === 'string' ? m.slice(0, 40) : m)}`;
  return { challenge, method: m };
}

/**
 * Whether the token request's `verifier` answers the code's `stored` challenge:
 * true when neither is there; false when only one is, or they do not match.
 */
export function verifierMatches(verifier: unknown, stored: PkceChallenge | undefined): boolean {
  if (stored === undefined) return verifier === undefined;
  if (typeof verifier !== 'string' || !PKCE_VALUE.test(verifier)) return false;
  const derived = stored.method === 'S256' ? createHash('sha256').update(verifier, 'ascii').digest('base64url') : verifier;
  return safeEqual(derived, stored.challenge);
}
